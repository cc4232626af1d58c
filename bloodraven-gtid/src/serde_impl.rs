//! `Serialize`/`Deserialize` in text form (feature `serde`): the same strings `Display` and `FromStr` use.
//!
//! A [`GtidSet`] serializes as its single-line form ([`GtidSet::to_compact_string`]) so it stays readable
//! in JSON and logs; deserializing accepts any MySQL GTID set text.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::{Gtid, GtidSet, MariadbGtid, MariadbGtidList, ServerUuid, SetRelation, Tag};

macro_rules! text_serde {
    ($ty:ty, $expecting:literal, $to_text:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let to_text: fn(&$ty) -> String = $to_text;
                serializer.serialize_str(&to_text(self))
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$ty, D::Error> {
                deserializer.deserialize_str(FromStrVisitor::<$ty>(PhantomData, $expecting))
            }
        }
    };
}

text_serde!(ServerUuid, "a server uuid", |v| v.to_string());
text_serde!(Tag, "a gtid tag", |v| v.to_string());
text_serde!(Gtid, "a gtid (uuid[:tag]:gno)", |v| v.to_string());
text_serde!(GtidSet, "a mysql gtid set", |v| v.to_compact_string());
text_serde!(MariadbGtid, "a mariadb gtid (domain-server-seq)", |v| v
    .to_string());
text_serde!(MariadbGtidList, "a mariadb gtid list", |v| v.to_string());

impl Serialize for SetRelation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct FromStrVisitor<T>(PhantomData<T>, &'static str);

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_strings() {
        let text =
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:t:7,4e11fa47-71ca-11e1-9e33-c80aa9429562:9";
        let set: GtidSet = text.parse().unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<GtidSet>(&json).unwrap(), set);
        let gtid: Gtid =
            serde_json::from_str("\"3e11fa47-71ca-11e1-9e33-c80aa9429562:7\"").unwrap();
        assert_eq!(gtid.gno(), 7);
        let err = serde_json::from_str::<GtidSet>("\"3e11fa47:1\"").unwrap_err();
        assert!(
            err.to_string().contains("invalid gtid set at byte"),
            "{err}"
        );
        let list: MariadbGtidList = serde_json::from_str("\"0-1-2,3-4-5\"").unwrap();
        assert_eq!(serde_json::to_string(&list).unwrap(), "\"0-1-2,3-4-5\"");
        assert_eq!(
            serde_json::to_string(&SetRelation::Superset).unwrap(),
            "\"superset\""
        );
    }
}
