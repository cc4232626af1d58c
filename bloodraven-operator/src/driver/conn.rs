//! Sessions: one connection per operation to a real server over `mysql_async`, or (in tests) a scripted server
//! that records every statement.
//!
//! A fresh connection per operation keeps the model simple and safe: a call the runner abandons at its deadline
//! drops its socket with it (no pooled connection left parked on a black-holed peer), a restarted server never
//! meets a stale pooled connection, and "the own connection" excluded from session kills is exactly the one
//! running the kill. On loopback or in a cluster a connect costs about a millisecond.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts, Value};

/// One result row: column names and values as text (`None` for SQL NULL).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct Row {
    names: Arc<[String]>,
    values: Vec<Option<String>>,
}

impl Row {
    /// A row from column names and values.
    pub(crate) fn new(names: Arc<[String]>, values: Vec<Option<String>>) -> Row {
        Row { names, values }
    }

    /// The value of column `index` (`None` for NULL or a missing column).
    pub(crate) fn at(&self, index: usize) -> Option<&str> {
        self.values.get(index).and_then(|v| v.as_deref())
    }

    /// The value of the first of `names` the row has (`None` for NULL or when none exists).
    pub(crate) fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.names.iter().position(|c| c.eq_ignore_ascii_case(n)))
            .and_then(|i| self.at(i))
    }
}

/// A statement failure as the driver sees it, before the site name and statement are attached.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Failure {
    /// The server answered with an error.
    Server {
        /// The server error code (e.g. 1094 unknown thread).
        code: u16,
        /// The server's message.
        message: String,
    },
    /// The connection failed (connect, reset, closed, TLS, protocol).
    Transport(String),
}

impl Failure {
    /// The server error code, if the server answered.
    pub(crate) fn code(&self) -> Option<u16> {
        match self {
            Failure::Server { code, .. } => Some(*code),
            Failure::Transport(_) => None,
        }
    }

    /// The message text.
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Server { message, .. } | Failure::Transport(message) => message,
        }
    }
}

impl From<mysql_async::Error> for Failure {
    fn from(e: mysql_async::Error) -> Failure {
        match e {
            mysql_async::Error::Server(s) => Failure::Server {
                code: s.code,
                message: s.message,
            },
            other => Failure::Transport(other.to_string()),
        }
    }
}

/// Where a site's sessions go.
#[derive(Clone)]
pub(crate) enum Backend {
    /// A real server.
    Server(Opts),
    /// A scripted server (tests).
    #[cfg(test)]
    Script(Arc<script::Script>),
}

impl Backend {
    /// Options for a real server at `host:port` (TCP only: never switches to a local socket), over TLS when `tls`
    /// is given.
    pub(crate) fn server(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        tls: Option<&super::Tls>,
    ) -> Backend {
        let ssl = tls.map(|tls| {
            SslOpts::default()
                .with_root_certs(vec![tls.ca_pem.clone().into()])
                .with_disable_built_in_roots(true)
                .with_danger_tls_hostname_override(Some(tls.server_name.clone()))
        });
        let opts = OptsBuilder::default()
            .ssl_opts(ssl)
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .stmt_cache_size(0);
        Backend::Server(Opts::from(opts))
    }

    /// Opens a session.
    pub(crate) async fn open(&self) -> Result<Session, Failure> {
        match self {
            Backend::Server(opts) => Ok(Session::Server(Conn::new(opts.clone()).await?)),
            #[cfg(test)]
            Backend::Script(s) => {
                s.connect()?;
                Ok(Session::Script(s.clone()))
            }
        }
    }
}

/// One open connection.
pub(crate) enum Session {
    /// A real connection.
    Server(Conn),
    /// A scripted connection (tests).
    #[cfg(test)]
    Script(Arc<script::Script>),
}

impl Session {
    /// Runs a statement and discards any result.
    pub(crate) async fn exec(&mut self, sql: &str) -> Result<(), Failure> {
        match self {
            Session::Server(c) => Ok(c.query_drop(sql).await?),
            #[cfg(test)]
            Session::Script(s) => s.answer(sql).map(drop),
        }
    }

    /// Runs a query and collects its rows.
    pub(crate) async fn rows(&mut self, sql: &str) -> Result<Vec<Row>, Failure> {
        let mut rows = Vec::new();
        self.each_row(sql, |r| rows.push(r)).await?;
        Ok(rows)
    }

    /// Runs a query and hands each row to `f` as it arrives (bounded memory for long results).
    pub(crate) async fn each_row(
        &mut self,
        sql: &str,
        mut f: impl FnMut(Row) + Send,
    ) -> Result<(), Failure> {
        match self {
            Session::Server(c) => {
                let mut result = c.query_iter(sql).await?;
                let names: Arc<[String]> = result
                    .columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect();
                result
                    .for_each(|row| {
                        let values = row
                            .unwrap_raw()
                            .into_iter()
                            .map(|v| v.and_then(text))
                            .collect();
                        f(Row::new(names.clone(), values));
                    })
                    .await?;
                Ok(())
            }
            #[cfg(test)]
            Session::Script(s) => {
                s.answer(sql)?.into_iter().for_each(f);
                Ok(())
            }
        }
    }

    /// Closes the session politely; errors are irrelevant once the work is done.
    pub(crate) async fn close(self) {
        match self {
            Session::Server(c) => {
                let _ = c.disconnect().await;
            }
            #[cfg(test)]
            Session::Script(_) => {}
        }
    }
}

/// A text-protocol value as text.
fn text(value: Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true)),
    }
}

#[cfg(test)]
pub(crate) mod script {
    //! A scripted server: answers statements from a table and records everything it was sent.

    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};

    use super::{Failure, Row};

    /// What the scripted server answers to one statement.
    type Answer = Result<Vec<Row>, Failure>;

    /// A scripted server.
    #[derive(Default)]
    pub(crate) struct Script {
        state: Mutex<State>,
    }

    #[derive(Default)]
    struct State {
        sent: Vec<String>,
        answers: HashMap<String, VecDeque<Answer>>,
        refuse_connections: bool,
    }

    impl Script {
        /// An empty script: every statement succeeds with no rows.
        pub(crate) fn new() -> Arc<Script> {
            Arc::new(Script::default())
        }

        /// Answers `sql` with one row of `columns` = `values` (queued: repeated calls take the next answer; the
        /// last one repeats).
        pub(crate) fn row(&self, sql: &str, columns: &[&str], values: &[Option<&str>]) {
            self.rows(sql, columns, &[values]);
        }

        /// Answers `sql` with `rows` of `columns`.
        pub(crate) fn rows(&self, sql: &str, columns: &[&str], rows: &[&[Option<&str>]]) {
            let names: Arc<[String]> = columns.iter().map(|c| c.to_string()).collect();
            let rows = rows
                .iter()
                .map(|r| {
                    Row::new(
                        names.clone(),
                        r.iter().map(|v| v.map(str::to_string)).collect(),
                    )
                })
                .collect();
            self.push(sql, Ok(rows));
        }

        /// Answers `sql` with a server error.
        pub(crate) fn fail(&self, sql: &str, code: u16, message: &str) {
            self.push(
                sql,
                Err(Failure::Server {
                    code,
                    message: message.into(),
                }),
            );
        }

        /// Makes every connect fail, as a dead server would.
        pub(crate) fn go_down(&self) {
            self.state.lock().unwrap().refuse_connections = true;
        }

        /// Every statement sent so far, in order.
        pub(crate) fn sent(&self) -> Vec<String> {
            self.state.lock().unwrap().sent.clone()
        }

        fn push(&self, sql: &str, answer: Answer) {
            self.state
                .lock()
                .unwrap()
                .answers
                .entry(sql.to_string())
                .or_default()
                .push_back(answer);
        }

        pub(super) fn connect(&self) -> Result<(), Failure> {
            if self.state.lock().unwrap().refuse_connections {
                return Err(Failure::Transport("connection refused".into()));
            }
            Ok(())
        }

        pub(super) fn answer(&self, sql: &str) -> Answer {
            let mut state = self.state.lock().unwrap();
            state.sent.push(sql.to_string());
            match state.answers.get_mut(sql) {
                Some(queue) if queue.len() > 1 => queue.pop_front().unwrap_or(Ok(Vec::new())),
                Some(queue) => queue.front().cloned().unwrap_or(Ok(Vec::new())),
                None => Ok(Vec::new()),
            }
        }
    }
}
