//! The job file (`--config FILE.toml`, also `--mapping`): any option of the command
//! by its long name (`timezone = "Europe/Madrid"`, `rate = "1/s"`,
//! `no-dedupe = true`, `files = ["exports/"]`), a `[map]` table (field = "column")
//! and a `[settings]` table. It becomes flags put before those of the command line:
//! clap takes the last value of an option, so flags given on the command line win,
//! and clap checks every value as it checks flags. A token is refused (a file
//! setclick reads as configuration is not a secret's place: `token-file` is).

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

/// Subcommands that read a job file.
const READERS: [&str; 3] = ["validate", "import", "check"];

/// The command line with the job file's options put in, or as it was without one.
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, Error> {
    let strings: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(sub) = subcommand_at(&strings) else {
        return Ok(args);
    };
    let name = strings[sub].as_str();
    let Some((at, len, path)) = job_file(&strings[sub + 1..]) else {
        return Ok(args);
    };
    let (at, path) = (sub + 1 + at, path.to_string());
    let mut rest: Vec<OsString> = args[sub + 1..].to_vec();
    rest.drain(at - sub - 1..at - sub - 1 + len);
    let given_files =
        has_positionals(name, &strings[at + len..]) || has_positionals(name, &strings[sub + 1..at]);
    let flags = flags_of(Path::new(&path), name, given_files)?;
    let mut out: Vec<OsString> = args[..=sub].to_vec();
    out.extend(flags.into_iter().map(OsString::from));
    out.extend(rest);
    Ok(out)
}

/// Where the subcommand is (after global flags).
fn subcommand_at(args: &[String]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--log-format" => i += 2,
            a if a.starts_with('-') => i += 1,
            a => return READERS.contains(&a).then_some(i),
        }
    }
    None
}

/// The job file's flag: where it starts, how many arguments it takes, its path.
fn job_file(args: &[String]) -> Option<(usize, usize, &str)> {
    for (i, a) in args.iter().enumerate() {
        for flag in ["--config", "--mapping"] {
            if a == flag {
                return args.get(i + 1).map(|p| (i, 2, p.as_str()));
            }
            if let Some(p) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                return Some((i, 1, p));
            }
        }
    }
    None
}

/// The long options of a subcommand, and whether each takes a value.
fn options(sub: &str) -> Vec<(String, bool)> {
    let cli = Cli::command();
    let Some(cmd) = cli.find_subcommand(sub) else {
        return Vec::new();
    };
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            Some((long.to_string(), a.get_action().takes_values()))
        })
        .collect()
}

/// Whether `args` (of subcommand `sub`) hold a positional argument (a FILE).
fn has_positionals(sub: &str, args: &[String]) -> bool {
    let opts = options(sub);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            return i + 1 < args.len();
        }
        if let Some(long) = a.strip_prefix("--") {
            let takes = opts.iter().any(|(o, v)| o == long && *v);
            i += if takes { 2 } else { 1 };
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            i += 1;
            continue;
        }
        return true;
    }
    false
}

/// The job file's options as flags of subcommand `sub`; `files` only when the
/// command line names none.
fn flags_of(path: &Path, sub: &str, given_files: bool) -> Result<Vec<String>, Error> {
    let what = format!("--config {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| Error::usage(format!("{what}: {e}")))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| Error::usage(format!("{what}: {e}")))?;
    let mut flags = Vec::new();
    let mut files = Vec::new();
    for (key, value) in &table {
        let key = key.replace('_', "-");
        match key.as_str() {
            "token" | "sealmetrics-token" => {
                return Err(Error::usage(format!(
                    "{what}: a token is refused in a job file; give token-file = \"/path/to/token\" \
                     (mode 0600) or set SEALMETRICS_TOKEN"
                )));
            }
            "config" | "mapping" => {
                return Err(Error::usage(format!(
                    "{what}: a job file cannot name another"
                )));
            }
            "map" | "settings" | "setting" => {
                let flag = if key == "map" { "--map" } else { "--setting" };
                let toml::Value::Table(t) = value else {
                    return Err(Error::usage(format!("{what}: [{key}] must be a table")));
                };
                for (k, v) in t {
                    flags.push(flag.to_string());
                    flags.push(format!("{k}={}", plain(v)));
                }
            }
            "files" => files.extend(list(value).into_iter().map(|v| plain(&v))),
            _ => option(&what, sub, &key, value, &mut flags)?,
        }
    }
    if !given_files {
        flags.extend(files);
    }
    Ok(flags)
}

/// One option as flags: `--key value` (each value of an array), `--key` for true.
fn option(
    what: &str,
    sub: &str,
    key: &str,
    value: &toml::Value,
    flags: &mut Vec<String>,
) -> Result<(), Error> {
    let known = |s: &str| options(s).into_iter().find(|(o, _)| o == key);
    let Some((_, takes)) = known(sub) else {
        // An option of another command (a job file for import, used by validate).
        if READERS.iter().any(|s| known(s).is_some()) {
            return Ok(());
        }
        return Err(Error::usage(format!(
            "{what}: unknown option '{key}'; the options are the long flags of `setclick {sub} \
             --help`, without their dashes"
        )));
    };
    match (value, takes) {
        (toml::Value::Boolean(true), false) => flags.push(format!("--{key}")),
        (toml::Value::Boolean(false), false) => {}
        (_, false) => {
            return Err(Error::usage(format!("{what}: {key} takes true or false")));
        }
        (v, true) => {
            for item in list(v) {
                flags.push(format!("--{key}"));
                flags.push(plain(&item));
            }
        }
    }
    Ok(())
}

fn list(v: &toml::Value) -> Vec<toml::Value> {
    match v {
        toml::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// A value as a flag's text: strings as they are, the rest as TOML writes them.
fn plain(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
