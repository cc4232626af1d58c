//! Command-line definitions for `gtid` (clap derive).

use clap::{Parser, Subcommand};

/// GTID set algebra with exact MySQL semantics.
#[derive(Debug, Parser)]
#[command(
    name = "gtid",
    version,
    about = "GTID set algebra with exact MySQL semantics",
    long_about = "GTID set algebra with exact MySQL semantics.\n\n\
        Every SET argument is MySQL GTID set text, as in gtid_executed or GTID_SUBTRACT(): \
        `uuid:1-5:7,uuid2:tag:1-3`, whitespace and newlines allowed, upper- or lower-case UUIDs, \
        MySQL 8.3+ tags. Give `-` instead of an argument to read it from standard input.\n\n\
        Sets print as MySQL prints them (UUIDs sorted and lower-case, merged intervals, blocks \
        joined by \",\\n\") unless --compact (one line) or --json (one JSON object) is given.\n\n\
        Exit status: 0 on success, also when the answer is `false`; 2 on bad input, with a \
        one-line `error: ...` on standard error.",
    after_help = "Examples:\n  \
        gtid normalize '3E11FA47-71CA-11E1-9E33-C80AA9429562:1-3:4-5'\n  \
        gtid subtract \"$(mysql -h old -NBe 'SELECT @@gtid_executed')\" \\\n      \
        \"$(mysql -h new -NBe 'SELECT @@gtid_executed')\"\n  \
        mysql -NBe 'SELECT @@gtid_executed' | gtid count -\n\n\
        Run `gtid <command> --help` for an example of each command.",
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// Print sets on one line (blocks joined by "," instead of ",\n").
    #[arg(long, global = true)]
    pub(crate) compact: bool,

    /// Print the result as one JSON object per line, e.g. {"set":"..."} or {"result":true}.
    #[arg(long, global = true, conflicts_with = "compact")]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print SET in MySQL's canonical form.
    #[command(after_help = concat!(
        "Example:\n  $ gtid normalize \\\n      '3E11FA47-71CA-11E1-9E33-C80AA9429562:4-5:1-3,3e11fa47-71ca-11e1-9e33-c80aa9429562:7'\n  ",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"
    ))]
    Normalize {
        /// The GTID set (or `-` for standard input).
        set: String,
    },

    /// Print the union of all SETs.
    #[command(after_help = concat!(
        "Example:\n  $ gtid union \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:6-9 \\\n      4e11fa47-71ca-11e1-9e33-c80aa9429562:1\n  ",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9,\n  4e11fa47-71ca-11e1-9e33-c80aa9429562:1"
    ))]
    Union {
        /// Two or more GTID sets.
        #[arg(required = true, num_args = 2..)]
        sets: Vec<String>,
    },

    /// Print A − B: the GTIDs of A that B lacks (MySQL's GTID_SUBTRACT(A, B)).
    #[command(after_help = concat!(
        "Example (what an old primary has that the new one lacks):\n  $ gtid subtract \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-97\n  ",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:98-100"
    ))]
    Subtract {
        /// The set to subtract from.
        a: String,
        /// The set to remove.
        b: String,
    },

    /// Print A ∩ B.
    #[command(after_help = concat!(
        "Example:\n  $ gtid intersect \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:5-20\n  ",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-10"
    ))]
    Intersect {
        /// First set.
        a: String,
        /// Second set.
        b: String,
    },

    /// Print `true` when A ⊆ B (MySQL's GTID_SUBSET(A, B)), else `false`.
    #[command(after_help = concat!(
        "Example (may the target be promoted? it must hold everything the source has):\n  $ gtid subset \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-97 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100\n  ",
        "true"
    ))]
    Subset {
        /// The candidate subset.
        a: String,
        /// The candidate superset.
        b: String,
    },

    /// Print `true` when A and B hold the same GTIDs, else `false`.
    #[command(after_help = concat!(
        "Example:\n  $ gtid equal \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:4 \\\n      3E11FA47-71CA-11E1-9E33-C80AA9429562:1-4\n  ",
        "true"
    ))]
    Equal {
        /// First set.
        a: String,
        /// Second set.
        b: String,
    },

    /// Print `true` when A and B share no GTID, else `false`.
    #[command(after_help = concat!(
        "Example:\n  $ gtid disjoint \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:4-9\n  ",
        "true"
    ))]
    Disjoint {
        /// First set.
        a: String,
        /// Second set.
        b: String,
    },

    /// Classify A against B: equal, subset, superset, disjoint or incomparable (diverged).
    #[command(after_help = concat!(
        "Checked in that order, so an empty A against a non-empty B is `subset`.\n\n",
        "Example (two replicas that each applied a transaction the other lacks):\n  $ gtid compare \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9:11\n  ",
        "incomparable"
    ))]
    Compare {
        /// First set.
        a: String,
        /// Second set.
        b: String,
    },

    /// Print the number of GTIDs in SET.
    #[command(after_help = concat!(
        "Example:\n  $ gtid count 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10:t:1-5\n  ",
        "15"
    ))]
    Count {
        /// The GTID set (or `-` for standard input).
        set: String,
    },

    /// Print `true` when SET contains GTID (`uuid:gno` or `uuid:tag:gno`), else `false`.
    #[command(after_help = concat!(
        "Example:\n  $ gtid contains \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10 \\\n      3e11fa47-71ca-11e1-9e33-c80aa9429562:7\n  ",
        "true"
    ))]
    Contains {
        /// The GTID set (or `-` for standard input).
        set: String,
        /// One GTID, `uuid:gno` or `uuid:tag:gno`.
        gtid: String,
    },

    /// Print the binary encoding of SET (as in PREVIOUS_GTIDS events and COM_BINLOG_DUMP_GTID) as hex.
    #[command(after_help = concat!(
        "The MySQL 8.3+ tagged format is used only when the set has tags.\n\n",
        "Example:\n  $ gtid encode 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-2\n  ",
        "01000000000000003e11fa4771ca11e19e33c80aa9429562010000000000000001000000000000000300000000000000"
    ))]
    Encode {
        /// The GTID set (or `-` for standard input).
        set: String,
    },

    /// Decode a hex binary GTID set encoding (untagged or tagged) and print the set.
    #[command(after_help = concat!(
        "Whitespace in HEX is ignored.\n\n",
        "Example:\n  $ gtid decode \\\n      01000000000000003e11fa4771ca11e19e33c80aa9429562010000000000000001000000000000000300000000000000\n  ",
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-2"
    ))]
    Decode {
        /// Hex digits of the encoding (or `-` for standard input).
        hex: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
