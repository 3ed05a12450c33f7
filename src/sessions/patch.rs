//! JSON Patch (RFC 6902) with bounded cost: every operation is checked for
//! what it would do to the document's size and depth **before** it is
//! applied, so a small patch cannot make the server allocate without bound
//! (a `copy` of the document into itself doubles it; twenty of them would be
//! a million times the original).
//!
//! The size is tracked incrementally as an upper bound of the document's
//! compact JSON size: adding a value adds its size plus the separators it
//! could need; removing one subtracts only its own size. The exact size is
//! checked again when the patched document is validated as a mission.
//!
//! Work is bounded too: the bytes an operation has to copy, compare, measure
//! or remove are charged to a [`PatchBudget`] shared by a whole request (one
//! patch, or every patch replayed by an import).

use json_patch::PatchOperation;
use serde_json::Value;

use super::error::DomainError;
use super::limits::DomainLimits;
use super::validate::{json_depth, json_size, too_large};

/// The work a request may still spend on JSON Patch operations, in bytes.
#[derive(Debug, Clone)]
pub struct PatchBudget {
    left: usize,
    limit: usize,
}

impl PatchBudget {
    /// A fresh budget of `limits.max_patch_work_bytes`.
    pub fn new(limits: &DomainLimits) -> Self {
        Self {
            left: limits.max_patch_work_bytes,
            limit: limits.max_patch_work_bytes,
        }
    }

    /// A budget for replaying a stored or imported history of
    /// `history_bytes`: the live allowance plus four times the history, so a
    /// replay costs in proportion to what it reads, like an export.
    pub fn for_history(limits: &DomainLimits, history_bytes: usize) -> Self {
        let limit = limits
            .max_patch_work_bytes
            .saturating_add(history_bytes.saturating_mul(4));
        Self { left: limit, limit }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), DomainError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(too_large(
                "patch work",
                format!("{} bytes copied, compared or removed", self.limit),
                "TANDEM_MAX_PATCH_WORK_BYTES",
            )),
        }
    }
}

/// A document being patched, with its size tracked.
#[derive(Debug, Clone)]
pub struct Patched {
    /// The document.
    pub doc: Value,
    /// An upper bound of its compact JSON size.
    size: usize,
}

impl Patched {
    /// Starts tracking `doc` (measures it once).
    pub fn new(doc: Value) -> Self {
        let size = json_size(&doc);
        Self { doc, size }
    }

    /// The tracked size (an upper bound of the exact one).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Applies `ops` one by one; refuses (leaving the document unusable:
    /// callers discard it) as soon as one would exceed a limit or fails.
    pub fn apply(
        &mut self,
        ops: &[PatchOperation],
        max_bytes: usize,
        limits: &DomainLimits,
        budget: &mut PatchBudget,
    ) -> Result<(), DomainError> {
        if ops.len() > limits.max_patch_ops {
            return Err(too_large(
                "patch",
                format!("{} operations", limits.max_patch_ops),
                "TANDEM_MAX_PATCH_OPS",
            ));
        }
        for (index, op) in ops.iter().enumerate() {
            self.check(op, max_bytes, limits, budget)?;
            json_patch::patch_unsafe(&mut self.doc, std::slice::from_ref(op)).map_err(|e| {
                DomainError::Invalid(format!("patch failed at operation {index}: {}", e.kind))
            })?;
        }
        Ok(())
    }

    /// What `op` would do to size and depth, checked before it runs.
    fn check(
        &mut self,
        op: &PatchOperation,
        max_bytes: usize,
        limits: &DomainLimits,
        budget: &mut PatchBudget,
    ) -> Result<(), DomainError> {
        let (added, removed) = match op {
            PatchOperation::Add(add) => {
                let size = measure(&add.value, budget)?;
                check_depth(add.path.count(), &add.value, limits)?;
                let replaced = self.existing_member(add.path.as_str(), budget)?;
                (size + separator(add.path.as_str()), replaced)
            }
            PatchOperation::Replace(replace) => {
                let size = measure(&replace.value, budget)?;
                check_depth(replace.path.count(), &replace.value, limits)?;
                let replaced = self.existing(replace.path.as_str(), budget)?;
                (size, replaced)
            }
            PatchOperation::Remove(remove) => (0, self.existing(remove.path.as_str(), budget)?),
            PatchOperation::Copy(copy) => {
                let source = self.doc.pointer(copy.from.as_str()).ok_or_else(|| {
                    DomainError::Invalid(format!("patch: copy from a missing path {}", copy.from))
                })?;
                let size = measure(source, budget)?;
                check_depth(copy.path.count(), source, limits)?;
                let replaced = self.existing_member(copy.path.as_str(), budget)?;
                (size + separator(copy.path.as_str()), replaced)
            }
            PatchOperation::Move(mv) if mv.from == mv.path => (0, 0),
            PatchOperation::Move(mv) => {
                let moved = self.doc.pointer(mv.from.as_str()).ok_or_else(|| {
                    DomainError::Invalid(format!("patch: move from a missing path {}", mv.from))
                })?;
                let moved_size = measure(moved, budget)?;
                check_depth(mv.path.count(), moved, limits)?;
                let replaced = self.existing_member(mv.path.as_str(), budget)?;
                // Moving a value over one of its ancestors replaces the
                // ancestor, which holds the value itself: it stays.
                let target = mv.path.as_str();
                let over_ancestor =
                    target.is_empty() || mv.from.as_str().starts_with(&format!("{target}/"));
                let kept = if over_ancestor { moved_size } else { 0 };
                (separator(target) + kept, replaced)
            }
            PatchOperation::Test(test) => {
                measure(&test.value, budget)?;
                check_depth(test.path.count(), &test.value, limits)?;
                (0, 0)
            }
        };
        let size = self.size.saturating_add(added).saturating_sub(removed);
        if size > max_bytes {
            return Err(too_large(
                "mission",
                format!("{max_bytes} bytes"),
                "TANDEM_MAX_MISSION_BYTES",
            ));
        }
        self.size = size;
        Ok(())
    }

    /// The size of the value at `path` (0 when there is none).
    fn existing(&self, path: &str, budget: &mut PatchBudget) -> Result<usize, DomainError> {
        match self.doc.pointer(path) {
            Some(value) => measure(value, budget),
            None => Ok(0),
        }
    }

    /// The size of an object member that an add at `path` would replace
    /// (adding into an array inserts, replacing nothing).
    fn existing_member(&self, path: &str, budget: &mut PatchBudget) -> Result<usize, DomainError> {
        // The root path replaces the whole document.
        let Some((parent, _)) = path.rsplit_once('/') else {
            return Ok(self.size);
        };
        match self.doc.pointer(parent) {
            Some(Value::Object(_)) => self.existing(path, budget),
            _ => Ok(0),
        }
    }
}

/// Measures a value, charging the budget for the walk.
fn measure(value: &Value, budget: &mut PatchBudget) -> Result<usize, DomainError> {
    let size = json_size(value);
    budget.charge(size)?;
    Ok(size)
}

/// Bytes a new member or element may add besides its value: the key with its
/// quotes and colon, and a comma.
fn separator(path: &str) -> usize {
    let key = path.rsplit_once('/').map_or(path, |(_, key)| key);
    // The key as JSON (quoted, escaped: never shorter than its pointer
    // token), a colon and a comma.
    json_size(key) + 2
}

fn check_depth(at: usize, value: &Value, limits: &DomainLimits) -> Result<(), DomainError> {
    if at + json_depth(value) > limits.max_json_depth {
        return Err(too_large(
            "mission",
            format!("{} levels of nesting", limits.max_json_depth),
            "TANDEM_MAX_JSON_DEPTH",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value::<json_patch::Patch>(v).unwrap().0
    }

    fn apply(doc: Value, patch: Value, max: usize) -> Result<Value, DomainError> {
        let limits = DomainLimits::default();
        let mut patched = Patched::new(doc);
        patched.apply(&ops(patch), max, &limits, &mut PatchBudget::new(&limits))?;
        Ok(patched.doc)
    }

    #[test]
    fn doubling_copies_are_refused_before_they_allocate() {
        let doc = json!({"hops": [{"id": "h", "name": "x".repeat(1000)}], "a": {}});
        let mut patch = Vec::new();
        for i in 0..24 {
            patch.push(json!({"op": "copy", "from": "", "path": format!("/a/{i}")}));
        }
        let err = apply(doc, Value::Array(patch), 256 * 1024).unwrap_err();
        assert!(
            err.to_string().contains("TANDEM_MAX_MISSION_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn the_tracked_size_is_an_upper_bound_that_follows_removals() {
        let limits = DomainLimits::default();
        let mut patched = Patched::new(json!({"list": [], "big": "y".repeat(500)}));
        let patch = ops(json!([
            {"op": "add", "path": "/list/-", "value": "x".repeat(100)},
            {"op": "copy", "from": "/big", "path": "/list/-"},
            {"op": "remove", "path": "/big"},
            {"op": "replace", "path": "/list/0", "value": "z"},
            {"op": "move", "from": "/list/1", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": "y".repeat(500)},
        ]));
        patched
            .apply(&patch, usize::MAX, &limits, &mut PatchBudget::new(&limits))
            .unwrap();
        let exact = json_size(&patched.doc);
        assert!(patched.size() >= exact, "{} < {exact}", patched.size());
        assert!(
            patched.size() < exact + 64,
            "{} drifted from {exact}",
            patched.size()
        );
    }

    #[test]
    fn depth_is_checked_at_the_destination() {
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!({ "d": deep });
        }
        let doc = json!({"a": {"b": {"c": {}}}, "deep": deep});
        // 20 levels copied under /a/b/c/x (4 deep) is 24: fine; twice nested is not.
        let once = apply(
            doc.clone(),
            json!([{"op":"copy","from":"/deep","path":"/a/b/c/x"}]),
            usize::MAX,
        );
        assert!(once.is_ok());
        let twice = apply(
            doc,
            json!([
                {"op":"copy","from":"/deep","path":"/a/b/c/x"},
                {"op":"copy","from":"/a","path":"/deep/d/d/d/d/d/d/d/d/d/d/d/d/x"}
            ]),
            usize::MAX,
        );
        assert!(twice
            .unwrap_err()
            .to_string()
            .contains("TANDEM_MAX_JSON_DEPTH"));
    }

    #[test]
    fn work_is_bounded_by_the_budget() {
        let limits = DomainLimits {
            max_patch_work_bytes: 10_000,
            ..Default::default()
        };
        let mut patched = Patched::new(json!({"v": "x".repeat(3000)}));
        let patch = ops(json!([
            {"op": "copy", "from": "/v", "path": "/w"},
            {"op": "remove", "path": "/w"},
            {"op": "copy", "from": "/v", "path": "/w"},
            {"op": "remove", "path": "/w"},
        ]));
        let err = patched
            .apply(&patch, usize::MAX, &limits, &mut PatchBudget::new(&limits))
            .unwrap_err();
        assert!(
            err.to_string().contains("TANDEM_MAX_PATCH_WORK_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn failing_operations_are_invalid_not_panics() {
        let err = apply(json!({}), json!([{"op":"remove","path":"/nope"}]), 1000).unwrap_err();
        assert!(matches!(err, DomainError::Invalid(_)));
        let err = apply(
            json!({}),
            json!([{"op":"copy","from":"/nope","path":"/x"}]),
            1000,
        )
        .unwrap_err();
        assert!(matches!(err, DomainError::Invalid(_)));
    }
}
