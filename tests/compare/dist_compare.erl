%% Erlang distribution doing what `distbench` does, between two erl nodes (two OS
%% processes): round trips of a 32-byte binary through gen_server:call to an echo server,
%% and one-way sends of a 32-byte binary timed until a call behind the last returns.
%% `serve/0` on one node; `drive/2` on the other prints its lines.
-module(dist_compare).
-behaviour(gen_server).
-export([serve/0, drive/1, init/1, handle_call/3, handle_cast/2, handle_info/2]).

-define(ROUND_TRIPS, 20000).
-define(CASTS, 1000000).

serve() ->
    {ok, _} = gen_server:start({local, echo}, ?MODULE, echo, []),
    {ok, _} = gen_server:start({local, sink}, ?MODULE, 0, []),
    io:format("READY~n").

init(State) -> {ok, State}.

handle_call({echo, Bin}, _From, echo) -> {reply, Bin, echo};
handle_call(received, _From, N) -> {reply, N, N}.

handle_cast(_, S) -> {noreply, S}.

handle_info({take, _Bin}, N) -> {noreply, N + 1};
handle_info(_, S) -> {noreply, S}.

%% [Node, Runs] as atoms, from `erl -run dist_compare drive Node Runs`.
drive([Node, Runs]) ->
    Server = list_to_atom(Node),
    pong = net_adm:ping(Server),
    N = list_to_integer(Runs),
    Results = [run(Server) || _ <- lists:seq(1, N)],
    {Meds, P99s, Rates} = lists:unzip3(Results),
    io:format("erlang      call round trip  median ~7.1f us  p99 ~7.1f us~n",
              [median(Meds), median(P99s)]),
    io:format("erlang      one-way casts    ~7.2f M msgs/s~n", [median(Rates) / 1.0e6]),
    halt().

run(Server) ->
    Bin = binary:copy(<<7>>, 32),
    Times = [begin
                 T0 = erlang:monotonic_time(nanosecond),
                 Bin = gen_server:call({echo, Server}, {echo, Bin}),
                 erlang:monotonic_time(nanosecond) - T0
             end || _ <- lists:seq(1, ?ROUND_TRIPS)],
    Sorted = lists:sort(Times),
    At = fun(Q) -> lists:nth(1 + trunc((length(Sorted) - 1) * Q), Sorted) / 1000 end,
    Sink = {sink, Server},
    {Us, _} = timer:tc(fun() ->
        sends(Sink, Bin, ?CASTS),
        gen_server:call(Sink, received, 120000)
    end),
    {At(0.5), At(0.99), ?CASTS / (Us / 1.0e6)}.

sends(_, _, 0) -> ok;
sends(Dest, Bin, K) -> Dest ! {take, Bin}, sends(Dest, Bin, K - 1).

median(Xs) -> lists:nth(1 + length(Xs) div 2, lists:sort(Xs)).
