%% The Erlang side of the tests that join a Rust node to a BEAM node: a key-value
%% gen_server for Rust to call, and a driver that does, on the Rust test's request, what an
%% Erlang program would do to a Rust node.
-module(rust_peer).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2, handle_info/2]).

start() ->
    {ok, _} = gen_server:start({local, kv}, ?MODULE, kv, []),
    {ok, _} = gen_server:start({local, driver}, ?MODULE, driver, []),
    {ok, _} = pg:start(pg),
    io:format("ready~n").

init(kv) -> {ok, {kv, #{}}};
init(driver) -> {ok, driver}.

handle_call({put, K, V}, _From, {kv, M}) ->
    {reply, maps:get(K, M, undefined), {kv, M#{K => V}}};
handle_call({get, K}, _From, {kv, M}) ->
    {reply, maps:get(K, M, undefined), {kv, M}};
handle_call(stop, _From, {kv, M}) ->
    {stop, {shutdown, asked}, ok, {kv, M}};
handle_call(slow, _From, {kv, M}) ->
    timer:sleep(2000),
    {reply, late, {kv, M}};
handle_call(Cmd, _From, driver) ->
    {reply, drive(Cmd), driver}.

handle_cast({put, K, V}, {kv, M}) -> {noreply, {kv, M#{K => V}}};
handle_cast(_, S) -> {noreply, S}.

handle_info({put, K, V}, {kv, M}) -> {noreply, {kv, M#{K => V}}};
handle_info(_, S) -> {noreply, S}.

%% What the Rust test asks the driver to do.
drive({call, Dest, Request}) ->
    try gen_server:call(Dest, Request, 5000)
    catch exit:{Reason, _} -> {exit, Reason}
    end;
drive({cast, Dest, Request}) ->
    gen_server:cast(Dest, Request);
drive({send, Dest, Message}) ->
    Dest ! Message,
    ok;
drive({monitor_wait, Dest, Timeout}) ->
    Ref = erlang:monitor(process, Dest),
    receive
        {'DOWN', Ref, process, _, Reason} -> {down, Reason}
    after Timeout ->
        erlang:demonitor(Ref, [flush]),
        timeout
    end;
drive(spawn_waiter) ->
    %% A process that ends with the reason it is sent: {exit_with, Reason}.
    spawn(fun waiter/0);
drive({link_and_wait, Dest, Timeout}) ->
    %% Links to a Rust process, trapping exits, and tells what the link brought.
    Driver = self(),
    Pid = spawn(fun() ->
        process_flag(trap_exit, true),
        link(Dest),
        Driver ! {linked, self()},
        receive
            {'EXIT', Dest, Reason} -> Driver ! {exited, self(), Reason}
        after Timeout -> Driver ! {exited, self(), timeout}
        end
    end),
    receive {linked, Pid} -> ok end,
    receive {exited, Pid, R} -> {exit, R} end;
drive({link_unlink_call, Dest}) ->
    %% Links to a Rust process and unlinks again, then calls it: the signals arrive before
    %% the call, so once it answers the Rust process holds no link.
    link(Dest),
    unlink(Dest),
    gen_server:call(Dest, get);
drive({linked_to, Dest}) ->
    %% Whether Dest (a Rust pid) is among the links of any process here.
    lists:any(fun(P) ->
        case erlang:process_info(P, links) of
            {links, Ls} -> lists:member(Dest, Ls);
            _ -> false
        end
    end, erlang:processes());
drive({send_deep, Dest, Depth}) ->
    %% A term nested deeper than a Rust node reads.
    Dest ! lists:foldl(fun(_, Acc) -> {Acc} end, leaf, lists:seq(1, Depth)),
    ok;
drive({send_fun, Dest}) ->
    Dest ! {bump, fun() -> ok end},
    ok;
drive({flood, Dest, N}) ->
    %% N messages {record, I}, in order, as fast as they go.
    lists:foreach(fun(I) -> Dest ! {record, I} end, lists:seq(1, N)),
    ok;
drive(spawn_sink) ->
    %% Counts {n, I} messages and how many came out of order; answers report calls.
    spawn(fun() -> sink(1, 0) end);
drive({pg_join, Group}) ->
    %% A process that joins Group, then ends when sent {exit_with, Reason}.
    Pid = spawn(fun waiter/0),
    ok = pg:join(Group, Pid),
    Pid;
drive({pg_members, Group}) ->
    lists:sort(pg:get_members(Group));
drive(nodes) ->
    nodes(hidden);
drive({eval, Source}) ->
    %% An expression as an Erlang user would type it, evaluated here; its value (or the
    %% exception it raised) printed on one line, as the shell prints it.
    {ok, Tokens, _} = erl_scan:string(binary_to_list(Source)),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    Value = try erl_eval:exprs(Exprs, []) of
                {value, V, _} -> V
            catch
                Class:Reason -> {caught, Class, Reason}
            end,
    iolist_to_binary(io_lib:print(Value, 1, 1000000, -1)).

sink(Next, Bad) ->
    receive
        {n, Next} -> sink(Next + 1, Bad);
        {n, _} -> sink(Next + 1, Bad + 1);
        {'$gen_call', From, report} ->
            gen_server:reply(From, {Next - 1, Bad}),
            sink(Next, Bad)
    end.

waiter() ->
    receive
        {exit_with, Reason} -> exit(Reason);
        {link_back, Pid} -> link(Pid), waiter()
    end.
