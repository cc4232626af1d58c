//! MysqlBackup end to end (placeholder until the tests land).
