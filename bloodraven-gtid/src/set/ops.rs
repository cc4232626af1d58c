//! Linear-time algebra over sorted, disjoint, non-adjacent interval lists (one list per (uuid, tag)).
//!
//! Every function takes canonical lists (ascending, with a gap of at least one GNO between neighbours) and
//! appends a canonical list to `out`. Each walks both inputs once: O(|a| + |b|).

use crate::Interval;

/// Appends `iv` to a canonical list whose intervals all start at or before `iv.start`, merging on touch.
#[inline]
pub(crate) fn push_merge(out: &mut Vec<Interval>, iv: Interval) {
    if let Some(last) = out.last_mut()
        && iv.start <= last.end + 1
    {
        if iv.end > last.end {
            last.end = iv.end;
        }
        return;
    }
    out.push(iv);
}

/// `a ∪ b`.
pub(crate) fn union(a: &[Interval], b: &[Interval], out: &mut Vec<Interval>) {
    // Common cases first: one side entirely before the other.
    match (a.last(), b.first()) {
        (Some(la), Some(fb)) if la.end + 1 < fb.start => {
            out.extend_from_slice(a);
            out.extend_from_slice(b);
            return;
        }
        _ => {}
    }
    match (b.last(), a.first()) {
        (Some(lb), Some(fa)) if lb.end + 1 < fa.start => {
            out.extend_from_slice(b);
            out.extend_from_slice(a);
            return;
        }
        _ => {}
    }
    out.reserve(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].start <= b[j].start {
            push_merge(out, a[i]);
            i += 1;
        } else {
            push_merge(out, b[j]);
            j += 1;
        }
    }
    for &iv in a[i..].iter().chain(&b[j..]) {
        push_merge(out, iv);
    }
}

/// `a ∩ b`.
pub(crate) fn intersection(a: &[Interval], b: &[Interval], out: &mut Vec<Interval>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start <= end {
            out.push(Interval { start, end });
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// `a − b`.
pub(crate) fn difference(a: &[Interval], b: &[Interval], out: &mut Vec<Interval>) {
    let mut j = 0;
    for iv in a {
        while j < b.len() && b[j].end < iv.start {
            j += 1;
        }
        if j == b.len() || b[j].start > iv.end {
            out.push(*iv);
            continue;
        }
        let mut start = iv.start;
        let mut done = false;
        let mut k = j;
        while k < b.len() && b[k].start <= iv.end {
            if b[k].start > start {
                out.push(Interval {
                    start,
                    end: b[k].start - 1,
                });
            }
            if b[k].end >= iv.end {
                done = true;
                break;
            }
            start = b[k].end + 1;
            k += 1;
        }
        if !done {
            out.push(Interval { start, end: iv.end });
        }
        // b[k] may still overlap the next interval of a.
        j = k;
    }
}

/// `a ⊆ b`.
pub(crate) fn is_subset(a: &[Interval], b: &[Interval]) -> bool {
    let mut j = 0;
    for iv in a {
        while j < b.len() && b[j].end < iv.start {
            j += 1;
        }
        // b is canonical, so iv must lie inside a single interval of b.
        match b.get(j) {
            Some(bj) if bj.start <= iv.start && iv.end <= bj.end => {}
            _ => return false,
        }
    }
    true
}

/// `a ∩ b ≠ ∅`.
pub(crate) fn intersects(a: &[Interval], b: &[Interval]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].start.max(b[j].start) <= a[i].end.min(b[j].end) {
            return true;
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

/// `(a − b) ∪ (b − a)`.
pub(crate) fn symmetric_difference(a: &[Interval], b: &[Interval], out: &mut Vec<Interval>) {
    let mut left = Vec::new();
    let mut right = Vec::new();
    difference(a, b, &mut left);
    difference(b, a, &mut right);
    union(&left, &right, out);
}

/// Inserts `iv` into a canonical list, keeping it canonical: O(log n) search plus one shift.
pub(crate) fn insert(ivs: &mut Vec<Interval>, iv: Interval) {
    // Fast path: GTIDs usually arrive in order, extending or following the last interval.
    match ivs.last_mut() {
        None => {
            ivs.push(iv);
            return;
        }
        Some(last) if iv.start > last.end + 1 => {
            ivs.push(iv);
            return;
        }
        Some(last) if iv.start >= last.start => {
            last.end = last.end.max(iv.end);
            return;
        }
        Some(_) => {}
    }
    let lo = ivs.partition_point(|x| x.end + 1 < iv.start);
    let hi = ivs.partition_point(|x| x.start <= iv.end + 1);
    if lo == hi {
        ivs.insert(lo, iv);
    } else {
        let start = iv.start.min(ivs[lo].start);
        let end = iv.end.max(ivs[hi - 1].end);
        ivs[lo] = Interval { start, end };
        ivs.drain(lo + 1..hi);
    }
}

/// Sorts a list of valid intervals and merges overlapping or touching ones.
pub(crate) fn normalize(ivs: &mut Vec<Interval>) {
    ivs.sort_unstable_by(|x, y| x.start.cmp(&y.start).then(y.end.cmp(&x.end)));
    let mut w = 0;
    for r in 0..ivs.len() {
        let iv = ivs[r];
        if w > 0 && iv.start <= ivs[w - 1].end + 1 {
            if iv.end > ivs[w - 1].end {
                ivs[w - 1].end = iv.end;
            }
        } else {
            ivs[w] = iv;
            w += 1;
        }
    }
    ivs.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(pairs: &[(u64, u64)]) -> Vec<Interval> {
        pairs
            .iter()
            .map(|&(start, end)| Interval { start, end })
            .collect()
    }

    #[test]
    fn difference_splits_and_spans() {
        let mut out = Vec::new();
        difference(
            &ivs(&[(1, 10), (20, 30)]),
            &ivs(&[(3, 4), (8, 22), (30, 40)]),
            &mut out,
        );
        assert_eq!(out, ivs(&[(1, 2), (5, 7), (23, 29)]));
    }

    #[test]
    fn insert_merges_neighbours() {
        let mut v = ivs(&[(1, 2), (5, 6), (9, 10)]);
        insert(&mut v, Interval { start: 3, end: 8 });
        assert_eq!(v, ivs(&[(1, 10)]));
        insert(&mut v, Interval { start: 20, end: 20 });
        insert(&mut v, Interval { start: 15, end: 15 });
        assert_eq!(v, ivs(&[(1, 10), (15, 15), (20, 20)]));
    }

    #[test]
    fn normalize_sorts_and_merges() {
        let mut v = ivs(&[(9, 10), (1, 3), (4, 4), (2, 2)]);
        normalize(&mut v);
        assert_eq!(v, ivs(&[(1, 4), (9, 10)]));
    }
}
