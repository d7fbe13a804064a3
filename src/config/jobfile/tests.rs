//! Job files: options by long name, tables, command-line flags winning.

use clap::Parser;

use super::*;
use crate::cli::Command;

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn job(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nightly.toml");
    std::fs::write(&path, text).unwrap();
    let p = path.display().to_string();
    (dir, p)
}

fn import_args(args: Vec<OsString>) -> crate::cli::ImportArgs {
    match Cli::try_parse_from(expand(args).unwrap()).unwrap().command {
        Command::Import(a) => a,
        other => panic!("{other:?}"),
    }
}

const NIGHTLY: &str = r#"
files = ["exports/"]
timezone = "Europe/Madrid"
rate = "2/s"
concurrency = 2
account-id = "60a5"
token_file = "/etc/setclick/token"
rejects = "logs/rejects-{date}.csv"
no-dedupe = true
microconversion = false
[map]
click_time = "Fecha"
email = "Correo"
[settings]
conversion_type = "call"
value = 5
"#;

#[test]
fn every_option_by_its_long_name_and_flags_on_the_command_line_win() {
    let (_d, path) = job(NIGHTLY);
    let a = import_args(os(&[
        "setclick", "-q", "import", "--config", &path, "--rate", "1/s",
    ]));
    assert_eq!(a.rate.as_deref(), Some("1/s"), "the command line wins");
    assert_eq!(a.concurrency, 2);
    assert_eq!(a.input.timezone.as_deref(), Some("Europe/Madrid"));
    assert_eq!(a.target.account_id.as_deref(), Some("60a5"));
    assert!(a.input.no_dedupe && !a.input.microconversion);
    assert_eq!(a.input.map, ["click_time=Fecha", "email=Correo"]);
    assert_eq!(a.input.setting, ["conversion_type=call", "value=5"]);
    assert_eq!(a.files, [std::path::PathBuf::from("exports/")]);
    let a = import_args(os(&["setclick", "import", "today.csv", "--mapping", &path]));
    assert_eq!(
        a.files,
        [std::path::PathBuf::from("today.csv")],
        "files named on the command line replace the job file's"
    );
    assert_eq!(a.rate.as_deref(), Some("2/s"));
}

#[test]
fn a_validate_run_takes_the_options_it_knows_from_an_import_job_file() {
    let (_d, path) = job(NIGHTLY);
    let args = expand(os(&["setclick", "validate", &format!("--config={path}")])).unwrap();
    match Cli::try_parse_from(args).unwrap().command {
        Command::Validate(v) => {
            assert_eq!(v.input.timezone.as_deref(), Some("Europe/Madrid"));
            assert_eq!(v.account_id.as_deref(), Some("60a5"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_options_and_tokens_are_refused_naming_the_file() {
    let (_d, path) = job("timezon = \"UTC\"\n");
    let e = expand(os(&["setclick", "import", "x.csv", "--config", &path]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("timezon") && e.contains("nightly.toml"), "{e}");
    let (_d, path) = job("token = \"eyJ...\"\n");
    let e = expand(os(&["setclick", "import", "x.csv", "--config", &path]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("token-file") && !e.contains("eyJ"), "{e}");
    let (_d, path) = job("no-dedupe = \"yes\"\n");
    assert!(expand(os(&["setclick", "import", "x.csv", "--config", &path])).is_err());
}

#[test]
fn without_a_job_file_the_command_line_is_untouched() {
    let args = os(&["setclick", "import", "a.csv", "--rate", "1/s"]);
    assert_eq!(expand(args.clone()).unwrap(), args);
    let args = os(&["setclick", "status", "--json"]);
    assert_eq!(expand(args.clone()).unwrap(), args);
}
