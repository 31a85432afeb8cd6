//! Shell completions and man pages, generated from the same clap definitions that parse the
//! command line ([`crate::cli`]), so they cannot drift from it. `dist/` ships them pre-built
//! (`make dist`); a test keeps those files equal to what this module prints.

use clap::CommandFactory;

use crate::cli::Cli;

/// The command as documented: the package version only (the commit in `--version` would make
/// every shipped page differ at every commit).
fn command() -> clap::Command {
    Cli::command().version(env!("CARGO_PKG_VERSION"))
}

/// The completion script for `shell`. Built in memory: clap_complete panics on a failed
/// write, and `standby completions bash | head` must not.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command(), "standby", &mut out);
    out
}

/// The subcommands that have a page of their own (`standby-<name>(1)`).
pub fn commands() -> Vec<String> {
    command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// The main page, or one command's (`None` when there is no such command).
pub fn man(sub: Option<&str>) -> Option<Vec<u8>> {
    let mut cmd = command();
    cmd.build();
    let (page, title) = match sub {
        None => (cmd, "standby".to_string()),
        Some(name) => {
            let sub = cmd
                .find_subcommand(name)?
                .clone()
                .version(env!("CARGO_PKG_VERSION"));
            // Titled as installed: `man standby-drill`.
            let title = format!("standby-{}", sub.get_name());
            (sub, title)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(title)
        .render(&mut out)
        .expect("writing to memory cannot fail");
    Some(out)
}
