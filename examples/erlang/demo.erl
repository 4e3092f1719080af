%% The Erlang side of the `beam` example: a gen_server that greets, calls the Rust node's
%% counter on request, and hands out processes for the Rust side to watch.
-module(demo).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2]).

start() ->
    {ok, _} = pg:start(pg),
    {ok, _} = gen_server:start({local, greeter}, ?MODULE, [], []),
    io:format("ready~n").

init([]) -> {ok, #{}}.

handle_call({hello, Name}, _From, S) ->
    {reply, <<"hello, ", Name/binary>>, S};
handle_call({add_on, Node, N}, _From, S) ->
    %% Erlang calling a Rust actor, as it would call any gen_server.
    {reply, gen_server:call({counter, Node}, {add, N}), S};
handle_call(spawn_worker, _From, S) ->
    {reply, spawn(fun() -> receive {stop, Reason} -> exit(Reason) end end), S};
handle_call({members, Group}, _From, S) ->
    {reply, pg:get_members(Group), S}.

handle_cast(_, S) -> {noreply, S}.
