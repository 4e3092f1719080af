//! A race a laptop hides, found by the simulation: `cargo run --example simulate`.
//!
//! Ann logs in through one process and out through another. The first casts `login` to the
//! session service and then tells the second, which casts `logout`. On one machine the login
//! is always there first. Between machines the two travel over different connections, and
//! nothing orders them: the logout can overtake the login and leave Ann online for good.
//!
//! The simulation (`actors_net::sim`) runs the three nodes on one thread, in virtual time,
//! with a latency drawn from the seed for every write: a few seeds find the race, and the
//! seed replays it. Then the fix (wait for the login's reply before handing over) holds on
//! every seed.

use std::collections::BTreeSet;
use std::time::Duration;

use actors_net::prelude::*;
use actors_net::sim::{Cluster, find_failure};

/// Who is online.
#[actor]
#[derive(Default)]
struct Sessions {
    online: BTreeSet<String>,
}

#[actor]
impl Sessions {
    #[handle(cast)]
    fn login(&mut self, user: String) {
        actors::sim::note(format_args!("sessions: {user} logs in"));
        self.online.insert(user);
    }

    /// The same, answered: the caller knows it is done.
    #[handle]
    fn login_now(&mut self, user: String) {
        self.online.insert(user);
    }

    #[handle(cast)]
    fn logout(&mut self, user: String) {
        actors::sim::note(format_args!("sessions: {user} logs out"));
        self.online.remove(&user);
    }

    #[handle]
    fn is_online(&self, user: String) -> bool {
        self.online.contains(&user)
    }
}

/// Logs a user out when told to.
#[actor]
struct Door {
    sessions: Pid<Sessions>,
}

#[actor]
impl Door {
    #[handle(cast)]
    fn leave(&mut self, user: String) {
        actors::sim::note(format_args!("door: logout of {user} sent"));
        let _ = self.sessions.logout(user);
    }
}

/// Ann logs in on node 1 and out through node 2; the sessions live on node 0. `wait` makes
/// the login a call, answered before the logout is asked for.
async fn ann_comes_and_goes(cluster: Cluster, wait: bool) -> Result<(), String> {
    cluster.connect_all().await;
    let (n0, n2) = (cluster.name(0), cluster.name(2));
    cluster
        .on(0, |node| async move {
            let sessions = node.spawn(Sessions::default());
            node.register("sessions", &sessions).expect("a free name");
        })
        .await
        .ok_or("node 0 is down")?;
    let at0 = n0.clone();
    cluster
        .on(2, move |node| async move {
            let sessions: Pid<Sessions> = node.whereis_on("sessions", &at0).await.expect("found");
            let door = node.spawn(Door { sessions });
            node.register("door", &door).expect("a free name");
        })
        .await
        .ok_or("node 2 is down")?;
    let at0 = n0.clone();
    cluster
        .on(1, move |node| async move {
            let sessions: Pid<Sessions> = node.whereis_on("sessions", &at0).await.expect("found");
            let door: Pid<Door> = node.whereis_on("door", &n2).await.expect("found");
            if wait {
                sessions.login_now("ann".into()).await.expect("answered");
            } else {
                let _ = sessions.login("ann".into());
            }
            actors::sim::note("ann: login sent, door told");
            let _ = door.leave("ann".into());
        })
        .await
        .ok_or("node 1 is down")?;
    actors::rt::sleep(Duration::from_millis(100)).await;
    let online = cluster
        .on(0, |node| async move {
            let sessions: Pid<Sessions> = node.whereis("sessions").expect("registered");
            sessions.is_online("ann".into()).await
        })
        .await
        .ok_or("node 0 is down")?
        .map_err(|e| e.to_string())?;
    if online {
        Err("Ann logged out, yet is online: the logout overtook the login".into())
    } else {
        Ok(())
    }
}

fn main() {
    actors_net::logs::init();
    const SEEDS: u64 = 300;
    println!("Ann logs in on node 1, then out on node 2, over {SEEDS} simulated networks.");
    match find_failure(0..SEEDS, 3, |c| ann_comes_and_goes(c, false)) {
        Some(failure) => {
            println!("race found: {failure}");
            println!(
                "replayed from its seed, the same run fails the same way: {}",
                find_failure([failure.seed], 3, |c| ann_comes_and_goes(c, false)).is_some()
            );
        }
        None => println!("no race found in {SEEDS} seeds"),
    }
    match find_failure(0..SEEDS, 3, |c| ann_comes_and_goes(c, true)) {
        Some(failure) => println!("the fix fails: {failure}"),
        None => println!(
            "with the login answered before the logout is asked for: no race in {SEEDS} seeds"
        ),
    }
}
