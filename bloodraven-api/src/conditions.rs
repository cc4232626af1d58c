//! `metav1.Condition` helpers with Kubernetes semantics.
//!
//! [`set_condition`] follows apimachinery's `meta.SetStatusCondition`: the condition is added
//! when its type is new; otherwise `status`, `reason`, `message` and `observedGeneration` are
//! updated, and `lastTransitionTime` moves only when `status` changes.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The status of a condition.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum ConditionStatus {
    /// `"False"`.
    False,
    /// `"True"`.
    True,
    /// `"Unknown"`.
    Unknown,
}

impl ConditionStatus {
    /// The wire form: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::False => "False",
            ConditionStatus::True => "True",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds a condition observed at `now` for object generation `observed_generation`.
///
/// ```
/// use bloodraven_api::conditions::{ConditionStatus, new_condition, set_condition};
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
///
/// let t0 = Time("2026-05-20T14:00:00Z".parse()?);
/// let t1 = Time("2026-05-20T14:05:00Z".parse()?);
/// let mut conditions = Vec::new();
/// set_condition(&mut conditions, new_condition("Ready", ConditionStatus::True, "TopologyPolled", "", Some(3), t0.clone()));
/// // Same status later: the message moves, the transition time does not.
/// set_condition(&mut conditions, new_condition("Ready", ConditionStatus::True, "TopologyPolled", "2 sites", Some(4), t1));
/// assert_eq!(conditions[0].last_transition_time, t0);
/// assert_eq!(conditions[0].observed_generation, Some(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn new_condition(
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.as_str().to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation,
        last_transition_time: now,
    }
}

/// Adds or updates the condition of `new.type_`; returns whether anything changed.
///
/// `new.last_transition_time` is used only when the condition is added or its status changes.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    let Some(existing) = conditions.iter_mut().find(|c| c.type_ == new.type_) else {
        conditions.push(new);
        return true;
    };
    let mut changed = false;
    if existing.status != new.status {
        existing.status = new.status;
        existing.last_transition_time = new.last_transition_time;
        changed = true;
    }
    if existing.reason != new.reason {
        existing.reason = new.reason;
        changed = true;
    }
    if existing.message != new.message {
        existing.message = new.message;
        changed = true;
    }
    if existing.observed_generation != new.observed_generation {
        existing.observed_generation = new.observed_generation;
        changed = true;
    }
    changed
}

/// Removes the condition of `type_`; returns whether one was present.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of `type_`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Whether the condition of `type_` is present, `True`, and was set for `generation` (so it
/// describes the current spec, not an older one).
pub fn is_true_for(conditions: &[Condition], type_: &str, generation: i64) -> bool {
    find_condition(conditions, type_)
        .is_some_and(|c| c.status == "True" && c.observed_generation == Some(generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: &str) -> Time {
        Time(ts.parse().unwrap())
    }

    #[test]
    fn transition_time_moves_only_with_status() {
        let mut conditions = Vec::new();
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-01T00:01:00Z");
        let t2 = at("2026-01-01T00:02:00Z");
        assert!(set_condition(
            &mut conditions,
            new_condition(
                "Ready",
                ConditionStatus::False,
                "Pending",
                "a",
                Some(1),
                t0.clone()
            )
        ));
        assert!(set_condition(
            &mut conditions,
            new_condition("Ready", ConditionStatus::False, "Waiting", "b", Some(2), t1)
        ));
        assert_eq!(conditions[0].last_transition_time, t0);
        assert_eq!(
            (
                conditions[0].reason.as_str(),
                conditions[0].message.as_str()
            ),
            ("Waiting", "b")
        );
        assert!(!set_condition(
            &mut conditions,
            new_condition(
                "Ready",
                ConditionStatus::False,
                "Waiting",
                "b",
                Some(2),
                t2.clone()
            )
        ));
        assert!(set_condition(
            &mut conditions,
            new_condition(
                "Ready",
                ConditionStatus::True,
                "Done",
                "",
                Some(2),
                t2.clone()
            )
        ));
        assert_eq!(conditions[0].last_transition_time, t2);
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn types_are_independent() {
        let mut conditions = Vec::new();
        let t0 = at("2026-01-01T00:00:00Z");
        set_condition(
            &mut conditions,
            new_condition(
                "Ready",
                ConditionStatus::True,
                "Ok",
                "",
                Some(5),
                t0.clone(),
            ),
        );
        set_condition(
            &mut conditions,
            new_condition(
                "Degraded",
                ConditionStatus::False,
                "Healthy",
                "",
                Some(5),
                t0,
            ),
        );
        assert_eq!(conditions.len(), 2);
        assert!(is_true(&conditions, "Ready"));
        assert!(is_true_for(&conditions, "Ready", 5));
        assert!(!is_true_for(&conditions, "Ready", 6));
        assert!(!is_true(&conditions, "Degraded"));
        assert!(remove_condition(&mut conditions, "Ready"));
        assert!(!remove_condition(&mut conditions, "Ready"));
        assert!(find_condition(&conditions, "Degraded").is_some());
    }
}
