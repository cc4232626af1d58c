//! [`Password`]: the one type every password in this crate travels in. Its `Debug` and `Display` never show the
//! value, and the memory is wiped when it is dropped.

use std::fmt;

use zeroize::Zeroizing;

/// A password (MySQL account, replication user). Read it with [`Password::expose`] at the one place that sends it.
///
/// ```
/// use bloodraven_operator::secret::Password;
///
/// let p = Password::from("hunter2");
/// assert_eq!(p.expose(), "hunter2");
/// assert_eq!(format!("{p:?} {p}"), "Password(<redacted>) <redacted>");
/// ```
#[derive(Clone, Default, Eq, PartialEq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// The password's text, to send to a server. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the password is empty (an account without one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Password {
    fn from(value: String) -> Password {
        Password(Zeroizing::new(value))
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Password {
        Password::from(value.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
