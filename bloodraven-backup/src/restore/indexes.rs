//! Secondary indexes built after the data (pure, no I/O).
//!
//! Loading rows into an InnoDB table that already has its secondary indexes inserts every row into every
//! index B-tree in key order of the data, which for most indexes is random order. Creating the table
//! without them and adding them once the data is in lets the server build each index by sorting, which
//! took a third less server CPU in this crate's measurements (docs/benchmarks.md). MySQL Shell's
//! `loadDump` does the same (`deferTableIndexes`).
//!
//! Only what is safe to move is moved: plain `KEY`s of an InnoDB table, read from the layout `SHOW CREATE
//! TABLE` prints (one definition a line). A table keeps its whole definition when it has a foreign key
//! (InnoDB would create an index of its own for it), a `FULLTEXT` or `SPATIAL` index (their build has rules
//! of its own), partitions (their clauses follow the closing line), or anything the parser does not
//! recognise; an index that starts with the `AUTO_INCREMENT`
//! column stays (the column needs an index). Unique keys stay: they are constraints, and keeping them costs
//! no correctness if the data was damaged on the way. After the `ALTER TABLE` that adds the deferred keys
//! back, `SHOW CREATE TABLE` prints the same definition as on the source.

/// A `CREATE TABLE` split into the statement to run before the data and the keys to add after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// The `CREATE TABLE` without the deferred keys.
    pub(crate) create: String,
    /// The deferred key definitions, as `SHOW CREATE TABLE` printed them (`KEY \`k\` (\`a\`)`).
    pub(crate) keys: Vec<String>,
}

impl Deferred {
    /// `ALTER TABLE <table> ADD KEY …, ADD KEY …`; `table` is already quoted.
    pub(crate) fn alter(&self, table: &str) -> String {
        let adds: Vec<String> = self.keys.iter().map(|k| format!("ADD {k}")).collect();
        format!("ALTER TABLE {table} {}", adds.join(", "))
    }
}

/// Splits the deferrable secondary keys off `create`; `None` when there are none or the table is one of
/// those that keep their definition (see the module docs).
pub(crate) fn defer(create: &str) -> Option<Deferred> {
    let lines: Vec<&str> = create.lines().collect();
    let (first, rest) = lines.split_first()?;
    let (last, body) = rest.split_last()?;
    if !first.starts_with("CREATE TABLE ") || !first.ends_with(" (") || !last.starts_with(')') {
        return None;
    }
    if !last.contains(" ENGINE=InnoDB") {
        return None;
    }
    let mut definitions = Vec::with_capacity(body.len());
    for (i, line) in body.iter().enumerate() {
        let definition = line.strip_prefix("  ")?;
        let definition = if i + 1 < body.len() {
            definition.strip_suffix(',')?
        } else {
            definition
        };
        if definition.starts_with(' ') {
            return None;
        }
        definitions.push(definition);
    }
    let mut auto_increment = None;
    for d in &definitions {
        if d.starts_with("FULLTEXT ")
            || d.starts_with("SPATIAL ")
            || d.contains(" FOREIGN KEY ")
            || d.starts_with("FOREIGN KEY ")
        {
            return None;
        }
        if d.starts_with('`') && d.contains(" AUTO_INCREMENT") {
            auto_increment = Some(identifier(d)?.0);
        }
    }
    let mut kept = Vec::with_capacity(definitions.len());
    let mut keys = Vec::new();
    for d in definitions {
        let Some(after_key) = d.strip_prefix("KEY ") else {
            kept.push(d);
            continue;
        };
        let (_, columns) = identifier(after_key)?;
        let first_column = identifier(columns.strip_prefix(" (")?)?.0;
        if auto_increment.as_deref() == Some(first_column.as_str()) {
            kept.push(d);
        } else {
            keys.push(d.to_owned());
        }
    }
    if keys.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(create.len());
    out.push_str(first);
    out.push('\n');
    out.push_str(
        &kept
            .iter()
            .map(|d| format!("  {d}"))
            .collect::<Vec<_>>()
            .join(",\n"),
    );
    out.push('\n');
    out.push_str(last);
    if create.ends_with('\n') {
        out.push('\n');
    }
    Some(Deferred { create: out, keys })
}

/// Parses a backtick-quoted identifier at the start of `text` (a doubled backtick is one); returns the name
/// and the rest.
fn identifier(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('`')?.char_indices();
    let mut name = String::new();
    while let Some((i, c)) = chars.next() {
        if c != '`' {
            name.push(c);
            continue;
        }
        let after = &text[1 + i + 1..];
        if after.starts_with('`') {
            name.push('`');
            chars.next();
            continue;
        }
        return Some((name, after));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "CREATE TABLE `t` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `a` int(11) DEFAULT NULL,
  `b` varchar(100) DEFAULT NULL,
  `we``ird` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `ub` (`b`),
  KEY `ka` (`a`),
  KEY `k``w` (`we``ird`,`b`(10)) COMMENT 'two, columns',
  CONSTRAINT `pos` CHECK (`a` >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";

    #[test]
    fn plain_keys_move_to_the_alter_and_everything_else_stays() {
        let d = defer(TABLE).unwrap();
        assert_eq!(
            d.create,
            "CREATE TABLE `t` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `a` int(11) DEFAULT NULL,
  `b` varchar(100) DEFAULT NULL,
  `we``ird` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `ub` (`b`),
  CONSTRAINT `pos` CHECK (`a` >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
        );
        assert_eq!(
            d.alter("`s`.`t`"),
            "ALTER TABLE `s`.`t` ADD KEY `ka` (`a`), ADD KEY `k``w` (`we``ird`,`b`(10)) COMMENT 'two, columns'"
        );
    }

    #[test]
    fn the_last_definition_can_be_a_deferred_key() {
        let d = defer(
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `ka` (`a`)\n) ENGINE=InnoDB\n",
        )
        .unwrap();
        assert_eq!(
            d.create,
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL\n) ENGINE=InnoDB\n"
        );
        assert_eq!(d.keys, ["KEY `ka` (`a`)"]);
    }

    #[test]
    fn the_auto_increment_columns_key_stays() {
        let d = defer(
            "CREATE TABLE `t` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `a` int(11) DEFAULT NULL,
  KEY `kid` (`id`,`a`),
  KEY `ka` (`a`)
) ENGINE=InnoDB",
        )
        .unwrap();
        assert!(d.create.contains("  KEY `kid` (`id`,`a`)\n"));
        assert_eq!(d.keys, ["KEY `ka` (`a`)"]);
    }

    #[test]
    fn tables_that_keep_their_definition() {
        let with = |line: &str| {
            format!(
                "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  `p` int(11) DEFAULT NULL,\n  KEY `ka` (`a`),\n  {line}\n) ENGINE=InnoDB"
            )
        };
        assert_eq!(
            defer(&with(
                "CONSTRAINT `f` FOREIGN KEY (`p`) REFERENCES `parent` (`id`)"
            )),
            None
        );
        assert_eq!(defer(&with("FULLTEXT KEY `ft` (`b`)")), None);
        assert_eq!(defer(&with("SPATIAL KEY `sp` (`g`)")), None);
        // Not InnoDB, no secondary key, or not the layout SHOW CREATE TABLE prints.
        assert_eq!(defer(&TABLE.replace("InnoDB", "MyISAM")), None);
        assert_eq!(
            defer(
                "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB"
            ),
            None
        );
        assert_eq!(
            defer("CREATE TABLE `t` (`a` int, KEY `ka` (`a`)) ENGINE=InnoDB"),
            None
        );
        let partitioned = format!(
            "{}\n PARTITION BY HASH (`a`)\nPARTITIONS 2",
            with("KEY `kb` (`p`)")
        );
        assert_eq!(defer(&partitioned), None);
        assert_eq!(
            defer("CREATE TABLE `t` (\n  `a\nb` int(11),\n  KEY `ka` (`a\nb`)\n) ENGINE=InnoDB"),
            None
        );
    }

    #[test]
    fn identifiers_undo_doubled_backticks() {
        assert_eq!(identifier("`a``b` (x"), Some(("a`b".to_owned(), " (x")));
        assert_eq!(identifier("`unterminated"), None);
        assert_eq!(identifier("plain"), None);
    }
}
