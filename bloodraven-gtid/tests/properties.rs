//! Property tests: every operation against a naive model (a set of (uuid, tag, gno) triples), text and
//! binary round trips, and parser robustness on arbitrary input.

use std::collections::BTreeSet;

use bloodraven_gtid::{Gtid, GtidSet, GtidSetBuilder, MAX_GNO, ServerUuid, SetRelation, Tag};
use proptest::prelude::*;

/// The model: (uuid index, tag index, gno). Orders like MySQL because UUIDS and TAGS are listed in order.
type Model = BTreeSet<(usize, usize, u64)>;

const UUIDS: [&str; 3] = [
    "00000000-0000-0000-0000-000000000001",
    "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    "ffffffff-ffff-ffff-ffff-fffffffffffe",
];
const TAGS: [&str; 3] = ["", "alpha", "beta_2"];

fn uuid(i: usize) -> ServerUuid {
    UUIDS[i].parse().expect("valid uuid")
}

fn tag(i: usize) -> Tag {
    Tag::parse(TAGS[i]).expect("valid tag")
}

/// GNOs near both ends of the range, so overflow at MAX_GNO is exercised.
fn gno() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 1u64..=40, 1 => (MAX_GNO - 40)..=MAX_GNO]
}

/// Intervals (uuid, tag, start, end) with short lengths.
fn intervals() -> impl Strategy<Value = Vec<(usize, usize, u64, u64)>> {
    prop::collection::vec((0..3usize, 0..3usize, gno(), 0u64..6), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|(u, t, start, len)| (u, t, start, start.saturating_add(len).min(MAX_GNO)))
            .collect()
    })
}

fn build(ivs: &[(usize, usize, u64, u64)]) -> (GtidSet, Model) {
    let mut set = GtidSet::new();
    let mut model = Model::new();
    for &(u, t, start, end) in ivs {
        set.insert_interval(uuid(u), &tag(t), start, end)
            .expect("valid interval");
        model.extend((start..=end).map(|g| (u, t, g)));
    }
    (set, model)
}

fn model_of(set: &GtidSet) -> Model {
    set.iter()
        .map(|g| {
            let u = UUIDS
                .iter()
                .position(|u| *u == g.uuid().to_string())
                .expect("known uuid");
            let t = TAGS
                .iter()
                .position(|t| *t == g.tag().as_str())
                .expect("known tag");
            (u, t, g.gno())
        })
        .collect()
}

/// MySQL's canonical text, written naively from the model.
fn render(model: &Model) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for (u, uuid_text) in UUIDS.iter().enumerate() {
        let mut block = String::new();
        for (t, tag_text) in TAGS.iter().enumerate() {
            let gnos: Vec<u64> = model
                .iter()
                .filter(|(mu, mt, _)| *mu == u && *mt == t)
                .map(|e| e.2)
                .collect();
            if gnos.is_empty() {
                continue;
            }
            if t > 0 {
                block.push_str(&format!(":{tag_text}"));
            }
            let mut i = 0;
            while i < gnos.len() {
                let mut j = i;
                while j + 1 < gnos.len() && gnos[j + 1] == gnos[j] + 1 {
                    j += 1;
                }
                if i == j {
                    block.push_str(&format!(":{}", gnos[i]));
                } else {
                    block.push_str(&format!(":{}-{}", gnos[i], gnos[j]));
                }
                i = j + 1;
            }
        }
        if !block.is_empty() {
            blocks.push(format!("{uuid_text}{block}"));
        }
    }
    blocks.join(",\n")
}

fn relation(a: &Model, b: &Model) -> SetRelation {
    if a == b {
        SetRelation::Equal
    } else if a.is_subset(b) {
        SetRelation::Subset
    } else if a.is_superset(b) {
        SetRelation::Superset
    } else if a.is_disjoint(b) {
        SetRelation::Disjoint
    } else {
        SetRelation::Incomparable
    }
}

proptest! {
    #[test]
    fn algebra_matches_the_model(a in intervals(), b in intervals()) {
        let (sa, ma) = build(&a);
        let (sb, mb) = build(&b);
        prop_assert_eq!(model_of(&sa), ma.clone());
        prop_assert_eq!(model_of(&sa.union(&sb)), &ma | &mb);
        prop_assert_eq!(model_of(&sa.intersection(&sb)), &ma & &mb);
        prop_assert_eq!(model_of(&sa.difference(&sb)), &ma - &mb);
        prop_assert_eq!(model_of(&sa.symmetric_difference(&sb)), &ma ^ &mb);
        prop_assert_eq!(sa.is_subset(&sb), ma.is_subset(&mb));
        prop_assert_eq!(sa.is_superset(&sb), ma.is_superset(&mb));
        prop_assert_eq!(sa.is_disjoint(&sb), ma.is_disjoint(&mb));
        prop_assert_eq!(sa == sb, ma == mb);
        prop_assert_eq!(sa.compare(&sb), relation(&ma, &mb));
        prop_assert_eq!(sa.count(), ma.len() as u128);
        prop_assert_eq!(sa.is_empty(), ma.is_empty());

        let mut in_place = sa.clone();
        in_place.union_with(&sb);
        prop_assert_eq!(&in_place, &sa.union(&sb));
        let mut in_place = sa.clone();
        in_place.difference_with(&sb);
        prop_assert_eq!(&in_place, &sa.difference(&sb));
        let mut in_place = sa.clone();
        in_place.intersection_with(&sb);
        prop_assert_eq!(&in_place, &sa.intersection(&sb));
    }

    #[test]
    fn membership_projection_and_iteration(a in intervals(), probes in prop::collection::vec((0..3usize, 0..3usize, gno()), 0..20)) {
        let (sa, ma) = build(&a);
        for (u, t, g) in probes {
            let gtid = Gtid::new(uuid(u), tag(t), g).expect("valid gtid");
            prop_assert_eq!(sa.contains(&gtid), ma.contains(&(u, t, g)));
        }
        for u in 0..UUIDS.len() {
            let only: Model = ma.iter().filter(|e| e.0 == u).copied().collect();
            let others: Model = ma.iter().filter(|e| e.0 != u).copied().collect();
            prop_assert_eq!(model_of(&sa.project(uuid(u))), only);
            prop_assert_eq!(model_of(&sa.without_uuid(uuid(u))), others);
        }
        let uuids: Vec<ServerUuid> = sa.uuids().collect();
        let expected: Vec<ServerUuid> = ma.iter().map(|e| e.0).collect::<BTreeSet<_>>().into_iter().map(uuid).collect();
        prop_assert_eq!(uuids, expected);
        // Iteration is in canonical order: the model's order.
        let listed: Vec<(usize, usize, u64)> = model_of(&sa).into_iter().collect();
        prop_assert_eq!(listed, ma.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(sa.intervals().map(|(_, _, iv)| u128::from(iv.len())).sum::<u128>(), ma.len() as u128);
    }

    #[test]
    fn text_and_binary_round_trip(a in intervals()) {
        let (sa, ma) = build(&a);
        let text = sa.to_string();
        prop_assert_eq!(&text, &render(&ma));
        prop_assert_eq!(&GtidSet::parse(&text).expect("canonical text parses"), &sa);
        prop_assert_eq!(&GtidSet::parse(&sa.to_compact_string()).expect("compact text parses"), &sa);
        prop_assert_eq!(&GtidSet::decode(&sa.encode()).expect("encoding decodes"), &sa);
        prop_assert_eq!(sa.encode()[7] == 1, sa.has_tags());
    }

    /// Any spelling MySQL accepts (shuffled items, repeated UUIDs, upper case, whitespace, empty items,
    /// reversed intervals) parses to the same set.
    #[test]
    fn messy_text_parses_like_the_model(
        a in intervals(),
        upper in prop::collection::vec(any::<bool>(), 12),
        ws in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]), 12),
        extra_commas in prop::collection::vec(0usize..3, 12),
    ) {
        let (sa, _) = build(&a);
        let mut text = String::new();
        for (i, &(u, t, start, end)) in a.iter().rev().enumerate() {
            let uuid = if upper[i] { UUIDS[u].to_uppercase() } else { UUIDS[u].to_owned() };
            let tag = if t > 0 { format!(":{w}{}{w}", TAGS[t].to_uppercase(), w = ws[i]) } else { String::new() };
            text.push_str(&format!("{w}{uuid}{w}{tag}:{w}{start}{w}-{w}{end}{w}", w = ws[i]));
            if i % 2 == 0 {
                // A reversed interval, which MySQL ignores.
                text.push_str(":7-6");
            }
            text.push_str(&",".repeat(extra_commas[i] + 1));
        }
        prop_assert_eq!(GtidSet::parse(&text).expect("messy text parses"), sa);
    }

    #[test]
    fn builder_accepts_any_order(a in intervals(), order in prop::collection::vec(any::<u32>(), 12)) {
        let (sa, _) = build(&a);
        let mut shuffled: Vec<_> = a.iter().copied().zip(order).collect();
        shuffled.sort_by_key(|e| e.1);
        let mut builder = GtidSetBuilder::new();
        for ((u, t, start, end), _) in shuffled {
            if start == end {
                builder.push(&Gtid::new(uuid(u), tag(t), start).expect("valid gtid"));
            } else {
                builder.push_interval(uuid(u), &tag(t), start, end).expect("valid interval");
            }
        }
        prop_assert_eq!(builder.build(), sa);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[0-9a-fA-F:, \\n-]{0,80}|\\PC{0,40}") {
        if let Ok(set) = GtidSet::parse(&text) {
            prop_assert_eq!(GtidSet::parse(&set.to_string()).expect("reparse"), set);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120), a in intervals(), flip in any::<(usize, u8)>()) {
        if let Ok(set) = GtidSet::decode(&bytes) {
            prop_assert_eq!(GtidSet::decode(&set.encode()).expect("re-decode"), set);
        }
        // Corrupt a valid encoding in one byte: it either decodes to a valid set or fails cleanly.
        let (sa, _) = build(&a);
        let mut encoded = sa.encode();
        let i = flip.0 % encoded.len();
        encoded[i] ^= flip.1.max(1);
        if let Ok(set) = GtidSet::decode(&encoded) {
            prop_assert_eq!(GtidSet::decode(&set.encode()).expect("re-decode"), set);
        }
        // Every proper prefix of a non-trivial encoding is rejected.
        let full = sa.encode();
        if !sa.is_empty() {
            for cut in [full.len() - 1, full.len() / 2, 9] {
                prop_assert!(GtidSet::decode(&full[..cut.min(full.len() - 1)]).is_err());
            }
        }
    }
}

/// A GNO of any magnitude: log-uniform over 1..=MAX_GNO, or close to a power of ten (where digit
/// counts change), so every text writer (numbers below 10^4, below 10^7, any) and their switches run.
fn any_magnitude_gno() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u32..19, any::<u64>()).prop_map(|(digits, r)| {
            let low = 10u64.pow(digits);
            low.saturating_add(r % low.saturating_mul(9))
                .clamp(1, MAX_GNO)
        }),
        (1u32..19, 0u64..40, any::<bool>()).prop_map(|(k, d, below)| {
            let p = 10u64.pow(k);
            (if below { p - d.min(p - 1) } else { p + d }).clamp(1, MAX_GNO)
        }),
        Just(MAX_GNO),
    ]
}

/// The canonical text written naively from the public intervals, with an independent UUID formatter.
fn naive_text(set: &GtidSet, sep: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut last: Option<(ServerUuid, String)> = None;
    for (uuid, tag, iv) in set.intervals() {
        if last.as_ref().map(|l| l.0) != Some(uuid) {
            let hex: String = uuid.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
            blocks.push(format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            ));
            last = Some((uuid, String::new()));
        }
        let block = blocks.last_mut().expect("pushed above");
        let current = &mut last.as_mut().expect("set above").1;
        if tag.as_str() != current.as_str() {
            block.push_str(&format!(":{}", tag.as_str()));
            *current = tag.as_str().to_owned();
        }
        if iv.start() == iv.end() {
            block.push_str(&format!(":{}", iv.start()));
        } else {
            block.push_str(&format!(":{}-{}", iv.start(), iv.end()));
        }
    }
    blocks.join(sep)
}

proptest! {
    /// Printing at every GNO magnitude, with many UUIDs, tags and long or short blocks, matches a naive
    /// formatter, through every printing method, and the text parses back to the same set.
    #[test]
    fn text_at_every_magnitude_matches_a_naive_formatter(
        ivs in prop::collection::vec((0u32..40, 0..3usize, any_magnitude_gno(), 0u64..30), 0..150),
        dense in prop::collection::vec((0u32..3, any_magnitude_gno()), 0..3),
    ) {
        let mut set = GtidSet::new();
        let uuid_of = |u: u32| ServerUuid::from_bytes([(u as u8).wrapping_mul(37); 16]);
        for &(u, t, start, len) in &ivs {
            let end = start.saturating_add(len).min(MAX_GNO);
            set.insert_interval(uuid_of(u), &tag(t), start, end).expect("valid interval");
        }
        // Long blocks of short intervals with gaps, from a random start: many runs of shared high digits.
        for &(u, start) in &dense {
            for k in 0..300u64 {
                let s = start.saturating_add(7 * k).min(MAX_GNO);
                let e = s.saturating_add(k % 3).min(MAX_GNO);
                set.insert_interval(uuid_of(u), &tag(0), s, e).expect("valid interval");
            }
        }
        let expected = naive_text(&set, ",\n");
        prop_assert_eq!(set.to_string(), expected.clone());
        prop_assert_eq!(set.to_text(), expected.clone());
        // Appended after text that is not ASCII, into a buffer that already holds something.
        let mut line = String::from("gtid_executed → ");
        set.write_text(&mut line);
        prop_assert_eq!(line, format!("gtid_executed → {expected}"));
        prop_assert_eq!(set.to_compact_string(), naive_text(&set, ","));
        prop_assert_eq!(GtidSet::parse(&expected).expect("canonical text parses"), set);
    }
}

/// Text shaped like `uuid:start-end`, with the near misses the one-range fast path must hand to the general
/// parser: leading zeros, zero, reversed or missing ends, GNOs around MAX_GNO, upper case, stray bytes.
fn one_range_like_text() -> impl Strategy<Value = String> {
    let gno = prop_oneof![
        any_magnitude_gno().prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("007".to_owned()),
        Just(MAX_GNO.to_string()),
        Just((MAX_GNO + 1).to_string()),
        Just("99999999999999999999".to_owned()),
        Just(String::new()),
    ];
    let uuid = prop_oneof![
        Just("3e11fa47-71ca-11e1-9e33-c80aa9429562"),
        Just("3E11FA47-71CA-11E1-9E33-C80AA9429562"),
        Just("3e11fa47-71ca-11e1-9e33-c80aa942956g"),
        Just("3e11fa47x71ca-11e1-9e33-c80aa9429562"),
    ];
    let tail = prop_oneof![
        Just(""),
        Just(" "),
        Just("\n"),
        Just(","),
        Just(":7"),
        Just("x")
    ];
    (uuid, gno.clone(), prop::option::of(gno), tail).prop_map(
        |(uuid, start, end, tail)| match end {
            Some(end) => format!("{uuid}:{start}-{end}{tail}"),
            None => format!("{uuid}:{start}{tail}"),
        },
    )
}

proptest! {
    /// The one-range fast path reads exactly what the general parser reads: a leading space (allowed
    /// by MySQL) sends the same text down the general path.
    #[test]
    fn one_range_text_parses_as_the_general_parser_does(text in one_range_like_text()) {
        let fast = GtidSet::parse(&text);
        let general = GtidSet::parse(&format!(" {text}"));
        match (fast, general) {
            (Ok(fast), Ok(general)) => prop_assert_eq!(fast, general),
            (Err(_), Err(_)) => {}
            (fast, general) => prop_assert!(false, "{text:?}: {fast:?} against {general:?}"),
        }
    }
}
