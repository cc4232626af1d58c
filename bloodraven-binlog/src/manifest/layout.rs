//! Names in the archive: sites, binlog basenames and the `<prefix>/<site>/<name>` object layout.

use std::fmt;

use object_store::path::Path;

use crate::Error;

/// A site name as the CRD allows it: non-empty, `a-z`, `0-9` and `-` only (so it never needs escaping).
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct SiteName(String);

impl SiteName {
    /// Checks `name` against the site charset.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(SiteName(name.to_owned()))
        } else {
            Err(Error::InvalidName {
                kind: "site",
                name: name.to_owned(),
                rule: "use a-z, 0-9 and '-' only, as in spec.sites[].name",
            })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A binlog basename that is safe as an object key part and a local file name: not empty, not `.` or
/// `..`, no `/` or `\`, no byte below 0x20 (the rule `pitr-download` applies).
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct BinlogName(String);

impl BinlogName {
    /// Checks `name` against the basename rule.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let ok = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.bytes().any(|b| b == b'/' || b == b'\\' || b < 0x20);
        if ok {
            Ok(BinlogName(name.to_owned()))
        } else {
            Err(Error::InvalidName {
                kind: "binlog file",
                name: name.to_owned(),
                rule: "a plain basename: not empty, '.' or '..', without '/', '\\' or control bytes",
            })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The archive name of generation `n` of this local name: the name itself for `n <= 1`; otherwise the
    /// generation goes, zero-padded to four digits, between the base name and the number:
    /// `mysql-bin.000001` → `mysql-bin.g0002.000001` (a name without a `.` gets a `.g0002` suffix).
    ///
    /// Generations are per server, not per name (see the [manifest module docs](crate::manifest)), so a
    /// byte-wise sort of a site's names, which is how the Go restore orders its replay, puts every
    /// generation-1 name (digits after `mysql-bin.`) before every later generation (`g` after it), and
    /// `g0002` before `g0010`, up to [`BinlogName::MAX_GENERATION`].
    pub fn generation(&self, n: u32) -> BinlogName {
        if n <= 1 {
            return self.clone();
        }
        match self.split() {
            Some((base, number)) => BinlogName(format!("{base}.g{n:04}.{number}")),
            None => BinlogName(format!("{}.g{n:04}", self.0)),
        }
    }

    /// The generation `archived` is of this local name: `1` for the name itself, `n` for
    /// [`BinlogName::generation`]`(n)` with `n >= 2`, and `n` for `<name>.g<n>` (`n >= 2` without leading
    /// zeros), the form earlier versions wrote, which is still read. `None` when it is another file's
    /// name.
    pub fn generation_of(&self, archived: &str) -> Option<u32> {
        if archived == self.0 {
            return Some(1);
        }
        let parse = |digits: &str, canonical: fn(u32) -> String| {
            let n: u32 = digits.parse().ok()?;
            (n >= 2 && digits == canonical(n)).then_some(n)
        };
        if let Some((base, number)) = self.split()
            && let Some(n) = archived
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix(".g"))
                .and_then(|r| r.strip_suffix(number))
                .and_then(|r| r.strip_suffix('.'))
                .and_then(|digits| parse(digits, |n| format!("{n:04}")))
        {
            return Some(n);
        }
        let digits = archived.strip_prefix(self.0.as_str())?.strip_prefix(".g")?;
        let padded = self.split().is_none();
        parse(digits, |n| n.to_string()).or_else(|| {
            padded
                .then(|| parse(digits, |n| format!("{n:04}")))
                .flatten()
        })
    }

    /// Generations up to this one sort in order ([`BinlogName::generation`] pads to four digits).
    pub const MAX_GENERATION: u32 = 9999;

    /// The part of the name archive names of the same base share (`mysql-bin.` of `mysql-bin.000001`;
    /// the whole name when it has no `.`).
    pub(crate) fn family(&self) -> &str {
        match self.split() {
            Some((base, _)) => &self.0[..=base.len()],
            None => &self.0,
        }
    }

    /// `(base, number)` around the last `.`, when both are non-empty.
    fn split(&self) -> Option<(&str, &str)> {
        self.0
            .rsplit_once('.')
            .filter(|(base, number)| !base.is_empty() && !number.is_empty())
    }
}

impl fmt::Display for BinlogName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the archive lives inside a store: `<prefix>/manifest-<site>.json` and `<prefix>/<site>/<name>`.
///
/// `prefix` is the archive prefix, i.e. the backup profile's prefix plus `binlogs`
/// ([`ArchiveLayout::for_profile_prefix`]).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ArchiveLayout {
    prefix: String,
}

impl ArchiveLayout {
    /// A layout rooted at the archive prefix itself (leading and trailing `/` are dropped).
    pub fn new(archive_prefix: &str) -> Self {
        ArchiveLayout {
            prefix: archive_prefix.trim_matches('/').to_owned(),
        }
    }

    /// The layout the operator configures: `<profile prefix>/binlogs`, or `binlogs` when the profile
    /// prefix is empty.
    pub fn for_profile_prefix(profile_prefix: &str) -> Self {
        let p = profile_prefix.trim_matches('/');
        if p.is_empty() {
            ArchiveLayout::new("binlogs")
        } else {
            ArchiveLayout::new(&format!("{p}/binlogs"))
        }
    }

    /// The archive prefix (`orders/binlogs`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/manifest-<site>.json`.
    pub fn manifest_key(&self, site: &SiteName) -> String {
        self.join(&format!("manifest-{site}.json"))
    }

    /// `<prefix>/<site>/<name>`.
    pub fn object_key(&self, site: &SiteName, name: &BinlogName) -> String {
        self.join(&format!("{site}/{name}"))
    }

    /// `<prefix>/<site>/`: stored `remotePath`s outside it are not trusted by the downloader.
    pub fn site_dir(&self, site: &SiteName) -> String {
        self.join(&format!("{site}/"))
    }

    /// The site of a `<prefix>/manifest-<site>.json` key, if `key` is one.
    pub fn site_of_manifest_key(&self, key: &str) -> Option<SiteName> {
        let rest = key.strip_prefix(&self.join("manifest-"))?;
        SiteName::parse(rest.strip_suffix(".json")?).ok()
    }

    /// The object-store path of a key.
    pub(crate) fn path(key: &str) -> Path {
        Path::from(key)
    }

    fn join(&self, tail: &str) -> String {
        if self.prefix.is_empty() {
            tail.to_owned()
        } else {
            format!("{}/{tail}", self.prefix)
        }
    }
}
