//! GLPI on MariaDB as the ticket store: GLPI 10 (`ten.rs`) and GLPI 11 (`eleven.rs`), each on
//! a database built from that version's own installer DDL (tests/data/glpi1*_schema.sql).

#[path = "../common/mod.rs"]
mod common;
mod eleven;
mod fixture;
mod ten;
