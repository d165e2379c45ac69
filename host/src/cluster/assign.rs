//! The leader's assignment: every task to a live worker, balanced to within one task, sticky (a
//! task stays where it runs unless its worker left or holds more than its share).

use std::collections::BTreeMap;

use super::records::Assignment;

/// One connector to assign: its name and how many tasks it runs now (0 when stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    /// The connector.
    pub name: String,
    /// Its task count.
    pub tasks: u32,
}

/// Assigns `demands` over `members` (sorted, unique worker ids), moving as little of `previous`
/// as balance allows. The connector itself goes with its task 0 (or, with no tasks, to the
/// leader).
pub fn balance(members: &[String], demands: &[Demand], previous: &Assignment, leader: &str, epoch: i64) -> Assignment {
    let mut out = Assignment { epoch, leader: leader.to_string(), ..Assignment::default() };
    if members.is_empty() {
        return out;
    }
    let units: Vec<(&str, u32)> =
        demands.iter().flat_map(|d| (0..d.tasks).map(move |t| (d.name.as_str(), t))).collect();
    let cap = units.len().div_ceil(members.len());
    let mut load: BTreeMap<&str, Vec<(&str, u32)>> = members.iter().map(|m| (m.as_str(), Vec::new())).collect();
    let mut homeless = Vec::new();
    for unit in &units {
        match previous.owner(unit.0, unit.1).and_then(|w| load.get_mut(w)) {
            Some(units) if units.len() < cap => units.push(*unit),
            _ => homeless.push(*unit),
        }
    }
    for unit in homeless {
        let lightest = load.iter_mut().min_by_key(|(_, units)| units.len()).expect("members");
        lightest.1.push(unit);
    }
    // Within one of each other: move from the heaviest to the lightest, newest tasks first.
    loop {
        let (heavy, heavy_len) = load.iter().max_by_key(|(_, u)| u.len()).map(|(w, u)| (*w, u.len())).expect("members");
        let (light, light_len) = load.iter().min_by_key(|(_, u)| u.len()).map(|(w, u)| (*w, u.len())).expect("members");
        if heavy_len <= light_len + 1 {
            break;
        }
        let unit = load.get_mut(heavy).and_then(Vec::pop).expect("a heavy worker has tasks");
        load.get_mut(light).expect("member").push(unit);
    }
    for d in demands {
        out.tasks.insert(d.name.clone(), vec![String::new(); d.tasks as usize]);
    }
    for (worker, units) in &load {
        for (name, task) in units {
            out.tasks.get_mut(*name).expect("demanded")[*task as usize] = worker.to_string();
        }
    }
    for d in demands {
        let owner = out.owner(&d.name, 0).unwrap_or(leader).to_string();
        out.connectors.insert(d.name.clone(), owner);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn demand(name: &str, tasks: u32) -> Demand {
        Demand { name: name.into(), tasks }
    }

    fn loads(a: &Assignment) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for w in a.tasks.values().flatten() {
            *out.entry(w.clone()).or_default() += 1;
        }
        out
    }

    #[test]
    fn tasks_spread_evenly_over_the_workers() {
        let a = balance(&members(&["a", "b", "c"]), &[demand("s", 3), demand("t", 4)], &Assignment::default(), "a", 1);
        let l = loads(&a);
        assert_eq!(l.values().sum::<usize>(), 7);
        assert!(l.values().all(|n| (2..=3).contains(n)), "{l:?}");
        assert_eq!(a.connectors["s"], a.tasks["s"][0]);
        assert_eq!(a.epoch, 1);
    }

    #[test]
    fn a_dead_workers_tasks_move_and_nothing_else_does() {
        let all = members(&["a", "b", "c"]);
        let before = balance(&all, &[demand("s", 6)], &Assignment::default(), "a", 1);
        let after = balance(&members(&["a", "c"]), &[demand("s", 6)], &before, "a", 1);
        assert!(after.tasks["s"].iter().all(|w| w != "b"), "{after:?}");
        for (i, w) in before.tasks["s"].iter().enumerate() {
            if w != "b" {
                assert_eq!(&after.tasks["s"][i], w, "task {i} stayed");
            }
        }
        assert_eq!(loads(&after), [("a".to_string(), 3), ("c".to_string(), 3)].into());
    }

    #[test]
    fn a_joining_worker_gets_its_share_and_only_that_moves() {
        let before = balance(&members(&["a", "b"]), &[demand("s", 4)], &Assignment::default(), "a", 1);
        let after = balance(&members(&["a", "b", "c"]), &[demand("s", 4)], &before, "a", 2);
        let moved = (0..4).filter(|i| before.tasks["s"][*i] != after.tasks["s"][*i]).count();
        assert_eq!(moved, 1, "{before:?} → {after:?}");
        assert_eq!(loads(&after)["c"], 1);
    }

    #[test]
    fn a_stopped_connector_has_no_tasks_and_no_workers_means_nothing_runs() {
        let a = balance(&members(&["a", "b"]), &[demand("s", 0)], &Assignment::default(), "b", 1);
        assert_eq!((a.tasks["s"].len(), a.connectors["s"].as_str()), (0, "b"));
        assert!(balance(&[], &[demand("s", 2)], &a, "b", 1).tasks.is_empty());
    }
}
