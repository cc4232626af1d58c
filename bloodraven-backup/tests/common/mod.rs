//! Helpers shared by the integration tests: servers, fixture data, checksums.

#![allow(dead_code, unreachable_pub)]

use bloodraven_backup::{ConnectOptions, DumpLocation};
use bloodraven_test_support::mariadb::MariaDb;
use bloodraven_test_support::s3::S3Server;
use mysql_async::prelude::Queryable;

/// A test server (test-support gives each its own tmpdir).
pub type Server = MariaDb;

/// A fresh MariaDB server with binary log and GTIDs.
pub fn server(id: u32) -> Server {
    MariaDb::builder()
        .server_id(id)
        .start()
        .expect("start mariadbd")
}

/// Root at the server's port.
pub fn conn_opts(server: &MariaDb) -> ConnectOptions {
    ConnectOptions::new("127.0.0.1", server.port())
}

/// Runs statements one by one over the protocol (no client-side splitting, so bodies may hold `;`).
pub async fn exec(server: &MariaDb, statements: &[&str]) {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(server.port())
        .user(Some("root"));
    let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
    for s in statements {
        conn.query_drop(*s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    conn.disconnect().await.expect("disconnect");
}

/// Tables, edge-case values, a view on a view, a trigger that would change data if it fired during the
/// load, routines with `;` in their bodies, an event and a generated column.
pub const FIXTURE: &[&str] = &[
    "CREATE DATABASE shop CHARACTER SET utf8mb4",
    "USE shop",
    "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2), \
     note TEXT, created DATETIME(6), ts TIMESTAMP NULL, d DATE, f DOUBLE, flag BIT(3), \
     double_price DECIMAL(12,2) AS (price * 2) VIRTUAL, KEY by_name (name), UNIQUE KEY by_created (created), \
     KEY by_price_note (price, note(20)) COMMENT 'two, columns', KEY by_double (double_price))",
    "INSERT INTO shop.items (id, name, price, note, created, ts, d, f, flag) \
     SELECT seq, CONCAT('item ', seq), seq / 7, \
       CASE seq % 6 WHEN 0 THEN NULL WHEN 1 THEN 'tab\\there' WHEN 2 THEN 'line\\nbreak\\\\back\\r' \
         WHEN 3 THEN '' WHEN 4 THEN 'ünïcødé ✓ 𝄞 \\\\N' ELSE REPEAT('x', seq % 300) END, \
       TIMESTAMP('2024-02-29 23:59:59.123456') + INTERVAL seq SECOND, \
       IF(seq % 4 = 0, NULL, FROM_UNIXTIME(1700000000 + seq)), DATE('1000-01-01') + INTERVAL seq DAY, \
       seq * 1.000000001e-3, seq % 8 FROM seq_1_to_3000",
    "CREATE TABLE shop.order_lines (order_id BIGINT UNSIGNED, line SMALLINT, qty INT, \
     PRIMARY KEY (order_id, line))",
    "INSERT INTO shop.order_lines SELECT 18446744073709551615 - seq DIV 3, seq % 3, seq FROM seq_1_to_900",
    "CREATE TABLE shop.log (msg VARCHAR(200), at DATETIME)",
    "INSERT INTO shop.log SELECT IF(seq % 3 = 0, NULL, CONCAT('event\\t', seq)), '2025-01-01' FROM seq_1_to_500",
    "INSERT INTO shop.log VALUES ('dup', NULL), ('dup', NULL)",
    "CREATE TABLE shop.blobs (id BIGINT PRIMARY KEY, b LONGBLOB, vb VARBINARY(32))",
    "INSERT INTO shop.blobs SELECT seq, UNHEX(SHA2(seq, 256)), UNHEX(MD5(seq)) FROM seq_1_to_200",
    "INSERT INTO shop.blobs SELECT 1000, GROUP_CONCAT(CHAR(seq USING binary) ORDER BY seq SEPARATOR ''), \
     CAST(0x000A090D5C4E AS BINARY) FROM seq_0_to_255",
    "CREATE TABLE shop.neg (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET latin1)",
    "INSERT INTO shop.neg SELECT CAST(seq AS SIGNED) - 500, IF(seq % 2, 'café', NULL) FROM seq_0_to_1000",
    "CREATE TABLE shop.empty_one (id INT PRIMARY KEY)",
    "CREATE TABLE shop.auto (id INT AUTO_INCREMENT, v INT, KEY by_id (id), KEY by_v (v))",
    "CREATE TABLE shop.parent (id INT PRIMARY KEY, k INT, KEY by_k (k))",
    "CREATE TABLE shop.child (id INT PRIMARY KEY, p INT, v INT, KEY by_v (v), \
     CONSTRAINT to_parent FOREIGN KEY (p) REFERENCES shop.parent (id))",
    "INSERT INTO shop.parent VALUES (1, 10), (2, 20)",
    "INSERT INTO shop.child VALUES (1, 1, 5), (2, 2, 6), (3, 1, 7)",
    "INSERT INTO shop.auto (id, v) VALUES (5, 1), (6, 2)",
    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    "INSERT INTO shop.auto (id, v) VALUES (0, 0)",
    "CREATE VIEW shop.expensive AS SELECT id, name FROM shop.items WHERE price > 100",
    "CREATE VIEW shop.a_view_on_view AS SELECT COUNT(*) AS c FROM shop.expensive",
    "CREATE TRIGGER shop.items_bi BEFORE INSERT ON shop.items FOR EACH ROW SET NEW.name = UPPER(NEW.name)",
    "CREATE PROCEDURE shop.p() BEGIN SELECT 1; SELECT 2; END",
    "CREATE FUNCTION shop.twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
    "CREATE EVENT shop.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.log WHERE 0",
    "ANALYZE TABLE shop.items, shop.order_lines, shop.blobs, shop.neg",
    "CREATE DATABASE `odd db`",
    "CREATE TABLE `odd db`.`we@ird.tåble` (`id` INT PRIMARY KEY, `col with space` VARCHAR(5))",
    "INSERT INTO `odd db`.`we@ird.tåble` VALUES (1, 'a'), (2, NULL)",
];

/// `SHOW CREATE TABLE` of every base table outside the system schemas, sorted by name.
pub fn definitions(server: &MariaDb) -> Vec<String> {
    let tables = server
        .sql(
            "SELECT CONCAT('`', TABLE_SCHEMA, '`.`', TABLE_NAME, '`') FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1",
        )
        .expect("tables");
    tables
        .lines()
        .map(|t| {
            server
                .sql(&format!("SHOW CREATE TABLE {t}"))
                .expect("show create table")
        })
        .collect()
}

/// `CHECKSUM TABLE` of every base table outside the system schemas, as `schema.table checksum` lines.
pub async fn checksums(server: &MariaDb) -> Vec<String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(server.port())
        .user(Some("root"));
    let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
    let tables: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             ORDER BY 1, 2",
        )
        .await
        .expect("tables");
    let mut out = Vec::new();
    for (s, t) in tables {
        let q = format!("CHECKSUM TABLE `{s}`.`{t}` EXTENDED");
        let row: Option<(String, Option<u64>)> = conn.query_first(&q).await.expect("checksum");
        let (_, sum) = row.expect("checksum row");
        out.push(format!("{s}.{t} {}", sum.unwrap_or(0)));
    }
    conn.disconnect().await.expect("disconnect");
    out
}

/// Names of views, routines, triggers and events outside the system schemas.
pub fn objects(server: &MariaDb) -> String {
    server
        .sql(
            "SELECT CONCAT('view ', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA NOT IN ('mysql', 'sys') \
             UNION ALL SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_SCHEMA, '.', ROUTINE_NAME) FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA NOT IN ('mysql', 'sys') \
             UNION ALL SELECT CONCAT('trigger ', TRIGGER_SCHEMA, '.', TRIGGER_NAME) FROM information_schema.TRIGGERS \
             UNION ALL SELECT CONCAT('event ', EVENT_SCHEMA, '.', EVENT_NAME, ' ', STATUS) FROM information_schema.EVENTS \
             ORDER BY 1",
        )
        .expect("objects")
}

/// A dump location in a new bucket prefix of the loopback S3 server.
pub fn s3_location(s3: &S3Server, prefix: &str) -> DumpLocation {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_bucket_name(s3.bucket())
        .with_access_key_id(s3.access_key())
        .with_secret_access_key(s3.secret_key())
        .with_region(s3.region())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_retry(object_store::RetryConfig {
            max_retries: 2,
            retry_timeout: std::time::Duration::from_secs(5),
            ..object_store::RetryConfig::default()
        })
        .build()
        .expect("s3 store");
    DumpLocation::new(std::sync::Arc::new(store), prefix)
}

/// A dump location in a local directory.
pub fn dir_location(dir: &std::path::Path) -> DumpLocation {
    DumpLocation::parse(&format!("file://{}", dir.display())).expect("dir location")
}
