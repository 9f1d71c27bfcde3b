//! Routing: what one accepted request becomes on each connection of its source.
//! Pure: the caller supplies the connections and the time, and writes the outcome.

use crate::rules::Rule;
use crate::{Connection, EventStatus, IgnoredCause, Millis};

/// What one connection makes of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An event to deliver (`HOLD` while the connection is paused, `SCHEDULED` when delayed).
    Deliver { connection_id: String, destination_id: String, status: EventStatus, next_attempt_at: Option<Millis> },
    /// Nothing to deliver, and why.
    Ignore { connection_id: String, cause: IgnoredCause },
}

/// Route a request through every connection of its source. `None` when the source has no
/// connection at all (the request is then rejected as `NO_CONNECTION`).
pub fn route(connections: &[Connection], now: Millis) -> Option<Vec<Outcome>> {
    if connections.is_empty() {
        return None;
    }
    Some(connections.iter().map(|c| route_one(c, now)).collect())
}

/// The event a connection makes of a request that passed its rules, due at `due`.
pub fn deliver(c: &Connection, due: Millis, now: Millis) -> Outcome {
    // A held event has no due time until its connection is unpaused.
    let (status, next_attempt_at) = if c.paused_at.is_some() {
        (EventStatus::Hold, None)
    } else if due > now {
        (EventStatus::Scheduled, Some(due))
    } else {
        (EventStatus::Queued, Some(due))
    };
    Outcome::Deliver { connection_id: c.id.clone(), destination_id: c.destination_id.clone(), status, next_attempt_at }
}

fn route_one(c: &Connection, now: Millis) -> Outcome {
    if c.disabled_at.is_some() {
        return Outcome::Ignore { connection_id: c.id.clone(), cause: IgnoredCause::Disabled };
    }
    let mut due = now;
    for rule in &c.rules {
        match rule {
            Rule::Delay { delay } => due = now.saturating_add(*delay),
            // Retry applies at delivery. Filter, transform and deduplicate rules are refused when
            // a connection is saved until the rules engine evaluates them.
            Rule::Retry { .. } | Rule::Filter { .. } | Rule::Transform { .. } | Rule::Deduplicate { .. } => {}
        }
    }
    // A held event has no due time until its connection is unpaused.
    let (status, next_attempt_at) = if c.paused_at.is_some() {
        (EventStatus::Hold, None)
    } else if due > now {
        (EventStatus::Scheduled, Some(due))
    } else {
        (EventStatus::Queued, Some(due))
    };
    Outcome::Deliver { connection_id: c.id.clone(), destination_id: c.destination_id.clone(), status, next_attempt_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str) -> Connection {
        Connection {
            id: id.into(),
            project_id: "tm_1".into(),
            name: id.into(),
            description: None,
            source_id: "src_1".into(),
            destination_id: format!("des_{id}"),
            rules: vec![],
            paused_at: None,
            disabled_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn no_connection_is_none() {
        assert_eq!(route(&[], 5), None);
    }

    #[test]
    fn one_outcome_per_connection_by_state() {
        let plain = conn("a");
        let paused = Connection { paused_at: Some(1), ..conn("b") };
        let disabled = Connection { disabled_at: Some(1), ..conn("c") };
        let delayed = Connection { rules: vec![Rule::Delay { delay: 1000 }], ..conn("d") };
        let out = route(&[plain, paused, disabled, delayed], 10).unwrap();
        assert_eq!(
            out,
            vec![
                Outcome::Deliver {
                    connection_id: "a".into(),
                    destination_id: "des_a".into(),
                    status: EventStatus::Queued,
                    next_attempt_at: Some(10)
                },
                Outcome::Deliver {
                    connection_id: "b".into(),
                    destination_id: "des_b".into(),
                    status: EventStatus::Hold,
                    next_attempt_at: None
                },
                Outcome::Ignore { connection_id: "c".into(), cause: IgnoredCause::Disabled },
                Outcome::Deliver {
                    connection_id: "d".into(),
                    destination_id: "des_d".into(),
                    status: EventStatus::Scheduled,
                    next_attempt_at: Some(1010)
                },
            ]
        );
    }
}
