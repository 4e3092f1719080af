//! Where a child runs: rendezvous (highest random weight) hashing over the live members, or
//! the first live one of the nodes a child prefers, in their order.
//!
//! Every member computes the owner of a child from the same two inputs, the child's id and
//! the set of member nodes it sees, with a hash fixed across builds and machines, so members
//! that see the same set agree without a word. When a member leaves, only its own children
//! move; when one joins, it takes about its share from each of the others.

use std::collections::BTreeSet;

/// 64-bit FNV-1a, then splitmix64's finaliser so that ids differing in one byte spread out.
fn weight(node: &str, id: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in node.bytes().chain([0xff]).chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The member node that runs child `id`, if there is any member: the first of `prefer`
/// that is a member, or (when `prefer` is empty) the one rendezvous hashing picks.
pub(crate) fn owner<'a>(
    members: &'a BTreeSet<String>,
    id: &str,
    prefer: &[String],
) -> Option<&'a str> {
    if !prefer.is_empty() {
        return prefer
            .iter()
            .find_map(|p| members.get(p))
            .map(String::as_str);
    }
    members
        .iter()
        .max_by_key(|node| (weight(node, id), node.as_str()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use crate::distributed::placement::owner;
    use std::collections::BTreeSet;

    fn set(nodes: &[&str]) -> BTreeSet<String> {
        nodes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_member_agrees_and_a_leaving_member_moves_only_its_own_children() {
        let all = set(&["a@h:1", "b@h:2", "c@h:3"]);
        let without_b = set(&["a@h:1", "c@h:3"]);
        let mut per_node = std::collections::BTreeMap::<&str, usize>::new();
        for i in 0..3000 {
            let id = format!("child-{i}");
            let before = owner(&all, &id, &[]).unwrap();
            *per_node.entry(before).or_default() += 1;
            let after = owner(&without_b, &id, &[]).unwrap();
            if before != "b@h:2" {
                assert_eq!(before, after, "{id} moved though its node stayed");
            }
        }
        // Each of three nodes gets roughly a third.
        for (node, n) in per_node {
            assert!((800..1200).contains(&n), "{node} got {n} of 3000");
        }
        assert_eq!(owner(&BTreeSet::new(), "x", &[]), None);
    }

    #[test]
    fn a_preferring_child_runs_on_the_first_live_node_of_its_list() {
        let prefer: Vec<String> = ["c@h:3", "gone@h:9", "a@h:1"].map(String::from).to_vec();
        let all = set(&["a@h:1", "b@h:2", "c@h:3"]);
        assert_eq!(owner(&all, "x", &prefer), Some("c@h:3"));
        assert_eq!(
            owner(&set(&["a@h:1", "b@h:2"]), "x", &prefer),
            Some("a@h:1")
        );
        assert_eq!(
            owner(&set(&["b@h:2"]), "x", &prefer),
            None,
            "only listed nodes"
        );
    }
}
