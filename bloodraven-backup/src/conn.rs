//! How to reach a server: host, port, user and password, as the `mariadb` client takes them.

use std::fmt;

use mysql_async::{Conn, Opts, OptsBuilder, prelude::Queryable};

use crate::error::Error;

/// Connection settings for the source of a dump or the target of a restore.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Host name or address (default `127.0.0.1`).
    pub host: String,
    /// TCP port (default 3306).
    pub port: u16,
    /// User (default `root`).
    pub user: String,
    /// Password (none by default; the CLI reads `MYSQL_PWD` or `--password-file`).
    pub password: Option<String>,
}

impl ConnectOptions {
    /// `root` without password at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            user: "root".into(),
            password: None,
        }
    }

    /// Sets the user and password.
    #[must_use]
    pub fn with_credentials(mut self, user: impl Into<String>, password: Option<String>) -> Self {
        self.user = user.into();
        self.password = password;
        self
    }

    /// `host:port`, for messages.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub(crate) fn opts(&self) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .prefer_socket(false)
            .into()
    }

    /// Opens a connection.
    pub(crate) async fn connect(&self) -> Result<Session, Error> {
        let conn = Conn::new(self.opts()).await.map_err(|source| Error::Sql {
            server: self.server(),
            context: "connect".into(),
            source,
        })?;
        Ok(Session {
            conn,
            server: self.server(),
        })
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions::new("127.0.0.1", 3306)
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A connection that names its server and statement in every error.
pub(crate) struct Session {
    pub(crate) conn: Conn,
    pub(crate) server: String,
}

impl Session {
    pub(crate) fn err(&self, sql: &str, source: mysql_async::Error) -> Error {
        let mut context: String = sql.chars().take(160).collect();
        if context.len() < sql.len() {
            context.push('…');
        }
        Error::Sql {
            server: self.server.clone(),
            context,
            source,
        }
    }

    /// Runs statements that return no rows.
    pub(crate) async fn exec(&mut self, sql: &str) -> Result<(), Error> {
        match self.conn.query_drop(sql).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.err(sql, e)),
        }
    }

    /// Rows of a query, each column as bytes (`None` for NULL).
    pub(crate) async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<Vec<u8>>>>, Error> {
        let rows: Vec<mysql_async::Row> = match self.conn.query(sql).await {
            Ok(r) => r,
            Err(e) => return Err(self.err(sql, e)),
        };
        Ok(rows
            .into_iter()
            // `Row::unwrap` hands over the values (it panics only for a value already taken: none is).
            .map(|row| row.unwrap().into_iter().map(value_bytes).collect())
            .collect())
    }

    /// Rows of a query with every column as text (NULL as the empty string).
    pub(crate) async fn text_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        Ok(self
            .rows(sql)
            .await?
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| String::from_utf8_lossy(&v.unwrap_or_default()).into_owned())
                    .collect()
            })
            .collect())
    }

    /// The first column of the first row as text (empty when there is no row or it is NULL).
    pub(crate) async fn scalar(&mut self, sql: &str) -> Result<String, Error> {
        Ok(self
            .text_rows(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default())
    }
}

/// A text-protocol value as the bytes the server sent (`None` for NULL).
pub(crate) fn value_bytes(value: mysql_async::Value) -> Option<Vec<u8>> {
    use mysql_async::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(b) => Some(b),
        // The text protocol only sends bytes; other variants come from the binary protocol.
        other => Some(other.as_sql(true).into_bytes()),
    }
}

/// `name` quoted as an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `text` quoted as an SQL string literal (backslashes and quotes escaped).
pub(crate) fn quote_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
