%% The Erlang side of the BEAM bench: a counter gen_server like the Rust one, and a driver
%% that times calls and sends from this node to another, Erlang's or Rust's.
-module(beam_bench).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2, handle_info/2, add/2]).

start() ->
    {ok, _} = gen_server:start({local, counter}, ?MODULE, 0, []),
    {ok, _} = gen_server:start({local, driver}, ?MODULE, driver, []),
    io:format("ready~n").

init(State) -> {ok, State}.

handle_call({add, By}, _From, N) when is_integer(N) -> {reply, N + By, N + By};
handle_call(get, _From, N) when is_integer(N) -> {reply, N, N};
handle_call({calls, Dest, K}, _From, driver) ->
    %% Microseconds for K sequential gen_server:call round trips.
    {T, _} = timer:tc(fun() -> calls(Dest, K) end),
    {reply, T, driver};
handle_call({rpcs, Node, Module, K}, _From, driver) ->
    %% Microseconds for K sequential rpc:call round trips of Module:add(1, 2) on Node.
    {T, _} = timer:tc(fun() -> rpcs(Node, Module, K) end),
    {reply, T, driver};
handle_call({sends, Dest, K}, _From, driver) ->
    %% Microseconds for K one-way messages and a call behind them (so all have arrived).
    {T, _} = timer:tc(fun() ->
        sends(Dest, K),
        gen_server:call(Dest, get, 60000)
    end),
    {reply, T, driver}.

handle_cast(_, S) -> {noreply, S}.

handle_info({record, _}, N) when is_integer(N) -> {noreply, N + 1};
handle_info(_, S) -> {noreply, S}.

calls(_, 0) -> ok;
calls(Dest, K) -> gen_server:call(Dest, {add, 1}), calls(Dest, K - 1).

sends(_, 0) -> ok;
sends(Dest, K) -> Dest ! {record, K}, sends(Dest, K - 1).

%% What rpc:call runs on the Erlang server node, as rust:add/2 runs on the Rust one.
add(A, B) -> A + B.

rpcs(_, _, 0) -> ok;
rpcs(Node, Module, K) -> 3 = rpc:call(Node, Module, add, [1, 2]), rpcs(Node, Module, K - 1).
