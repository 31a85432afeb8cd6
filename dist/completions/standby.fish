# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_standby_global_optspecs
    string join \n log-format= v/verbose q/quiet h/help V/version
end

function __fish_standby_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_standby_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_standby_using_subcommand
    set -l cmd (__fish_standby_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c standby -n "__fish_standby_needs_command" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_needs_command" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_needs_command" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_needs_command" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_needs_command" -s V -l version -d 'Print version'
complete -c standby -n "__fish_standby_needs_command" -f -a "serve" -d 'Watch the primary and fail over automatically (the systemd service)'
complete -c standby -n "__fish_standby_needs_command" -f -a "failover" -d 'Move traffic to the standby region now'
complete -c standby -n "__fish_standby_needs_command" -f -a "failback" -d 'Move traffic back to the primary region'
complete -c standby -n "__fish_standby_needs_command" -f -a "status" -d 'Show the state, the last verdict, any running run and the last report'
complete -c standby -n "__fish_standby_needs_command" -f -a "validate" -d 'Check a config and its runbooks; exit 0 if valid, 2 if not'
complete -c standby -n "__fish_standby_needs_command" -f -a "sync" -d 'Sync artifact sets to the standby now (all sets, or the one named)'
complete -c standby -n "__fish_standby_needs_command" -f -a "drill" -d 'Rehearse: `standby` scales the standby up, verifies and probes it, scales it back (DNS untouched); `full` fails over and back in one run'
complete -c standby -n "__fish_standby_needs_command" -f -a "check" -d 'Send a synthetic inference request to a side now and show every check (readiness)'
complete -c standby -n "__fish_standby_needs_command" -f -a "report" -d 'List or show run reports'
complete -c standby -n "__fish_standby_needs_command" -f -a "approve" -d 'Approve a failover that waits for approval (manual mode)'
complete -c standby -n "__fish_standby_needs_command" -f -a "pause" -d 'Stop all actions (observation, probes and syncs go on) until `standby resume`'
complete -c standby -n "__fish_standby_needs_command" -f -a "resume" -d 'Allow actions again after `standby pause`'
complete -c standby -n "__fish_standby_needs_command" -f -a "ack" -d 'Lift the cooldown after an automatic failover, and clear an escalated failover that used up its attempts: automatic failover may act again'
complete -c standby -n "__fish_standby_needs_command" -f -a "iam-policy" -d 'Print the least-privilege IAM policy for the host that runs standby with this config'
complete -c standby -n "__fish_standby_needs_command" -f -a "migrate-state" -d 'Copy this host\'s local state (state_dir) into the shared store of `[state] backend = "s3"`, so a second instance can join: stop `standby serve` first'
complete -c standby -n "__fish_standby_needs_command" -f -a "completions" -d 'Print a shell completion script: `standby completions bash > /etc/bash_completion.d/standby`'
complete -c standby -n "__fish_standby_needs_command" -f -a "man" -d 'Print the man page (roff): `standby man | man -l -`, or one command\'s (`standby man drill`)'
complete -c standby -n "__fish_standby_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c standby -n "__fish_standby_using_subcommand serve" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand serve" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand serve" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand serve" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand serve" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand failover" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand failover" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand failover" -l dry-run -d 'Print the plan (which groups go to which capacity, where DNS moves from and to) and change nothing'
complete -c standby -n "__fish_standby_using_subcommand failover" -s y -l yes -d 'Do not ask for confirmation'
complete -c standby -n "__fish_standby_using_subcommand failover" -l rerun -d 'Run the runbook even if traffic is already on the target side (scale, verify and flip again: repairs a half-done move)'
complete -c standby -n "__fish_standby_using_subcommand failover" -l flip-unverified -d 'DANGEROUS: when verifying the target side fails, go on and flip DNS anyway: traffic may move to a side that does not serve. Only for when the verify itself is what is broken'
complete -c standby -n "__fish_standby_using_subcommand failover" -l force -d '`--rerun` and `--flip-unverified` together (kept for scripts written before the split)'
complete -c standby -n "__fish_standby_using_subcommand failover" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand failover" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand failover" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand failback" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand failback" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand failback" -l dry-run -d 'Print the plan (which groups go to which capacity, where DNS moves from and to) and change nothing'
complete -c standby -n "__fish_standby_using_subcommand failback" -s y -l yes -d 'Do not ask for confirmation'
complete -c standby -n "__fish_standby_using_subcommand failback" -l rerun -d 'Run the runbook even if traffic is already on the target side (scale, verify and flip again: repairs a half-done move)'
complete -c standby -n "__fish_standby_using_subcommand failback" -l flip-unverified -d 'DANGEROUS: when verifying the target side fails, go on and flip DNS anyway: traffic may move to a side that does not serve. Only for when the verify itself is what is broken'
complete -c standby -n "__fish_standby_using_subcommand failback" -l force -d '`--rerun` and `--flip-unverified` together (kept for scripts written before the split)'
complete -c standby -n "__fish_standby_using_subcommand failback" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand failback" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand failback" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand status" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand status" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand status" -l json -d 'One JSON object (the daemon\'s `/status`, plus the last report) instead of text'
complete -c standby -n "__fish_standby_using_subcommand status" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand status" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand status" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand validate" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand validate" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand validate" -l json -d 'One JSON object (`valid`, and every error and warning with file, line, column and key) instead of text'
complete -c standby -n "__fish_standby_using_subcommand validate" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand validate" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand validate" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand sync" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand sync" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand sync" -l dry-run -d 'Print what would be copied, overwritten and deleted, with reasons, and change nothing'
complete -c standby -n "__fish_standby_using_subcommand sync" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand sync" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand sync" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand drill" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand drill" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand drill" -l dry-run -d 'Print the plan (which groups go to which capacity and back) and change nothing'
complete -c standby -n "__fish_standby_using_subcommand drill" -s y -l yes -d 'Do not ask for confirmation'
complete -c standby -n "__fish_standby_using_subcommand drill" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand drill" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c standby -n "__fish_standby_using_subcommand check" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand check" -l side -d 'Which side to probe' -r -f -a "primary\t''
standby\t''"
complete -c standby -n "__fish_standby_using_subcommand check" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand check" -l json -d 'One JSON object (the request, every check, the readiness) instead of text'
complete -c standby -n "__fish_standby_using_subcommand check" -l readiness -d 'After the probe, evaluate whether a failover would work now (the failover\'s preflight, warm capacity, GPU parity, quotas, reservations, RPO, drift, drill age, lease, IAM) and list every finding; exit 1 on any error. Reads AWS, changes nothing'
complete -c standby -n "__fish_standby_using_subcommand check" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand check" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand check" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'Newest first: kind, result, RTO against the objective, and the trend of the last drills'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Print one run\'s report (a run id, or a unique prefix or suffix of one)'
complete -c standby -n "__fish_standby_using_subcommand report; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -l limit -d 'How many to show' -r
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -l remote -d 'Read the reports uploaded to the standby bucket instead of the local directory'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -l json -d 'A JSON array (run, kind, result, times, reason, RTO against the objective) instead of a table'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -l format -d 'Markdown for a terminal or a ticket, JSON for tools, HTML for a browser' -r -f -a "md\t''
json\t''
html\t''"
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -l remote -d 'Read it from the standby bucket'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "list" -d 'Newest first: kind, result, RTO against the objective, and the trend of the last drills'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print one run\'s report (a run id, or a unique prefix or suffix of one)'
complete -c standby -n "__fish_standby_using_subcommand report; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c standby -n "__fish_standby_using_subcommand approve" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand approve" -l url -d 'Talk to the daemon\'s HTTP endpoint (e.g. http://127.0.0.1:9465) with the bearer token from `[control] token_env`, instead of its unix socket' -r
complete -c standby -n "__fish_standby_using_subcommand approve" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand approve" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand approve" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand approve" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand pause" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand pause" -l url -d 'Talk to the daemon\'s HTTP endpoint (e.g. http://127.0.0.1:9465) with the bearer token from `[control] token_env`, instead of its unix socket' -r
complete -c standby -n "__fish_standby_using_subcommand pause" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand pause" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand pause" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand pause" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand resume" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand resume" -l url -d 'Talk to the daemon\'s HTTP endpoint (e.g. http://127.0.0.1:9465) with the bearer token from `[control] token_env`, instead of its unix socket' -r
complete -c standby -n "__fish_standby_using_subcommand resume" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand resume" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand resume" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand resume" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand ack" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand ack" -l url -d 'Talk to the daemon\'s HTTP endpoint (e.g. http://127.0.0.1:9465) with the bearer token from `[control] token_env`, instead of its unix socket' -r
complete -c standby -n "__fish_standby_using_subcommand ack" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand ack" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand ack" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand ack" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -l account-id -d 'The AWS account id, to scope the Auto Scaling group ARNs (`*` when omitted)' -r
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -l kms-key-arn -d 'A KMS key of an SSE-KMS artifact bucket (repeat for each)' -r
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand iam-policy" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -s c -l config -d 'Path to standby.toml' -r -F
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -l dry-run -d 'List what would be copied and change nothing'
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand migrate-state" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand completions" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand completions" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand completions" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand completions" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand man" -l out-dir -d 'Write every page (`standby.1`, `standby-<command>.1`) into this directory instead (for packaging: `/usr/share/man/man1`)' -r -F
complete -c standby -n "__fish_standby_using_subcommand man" -l log-format -d 'Log lines as plain text (journald-friendly) or one JSON object per line' -r -f -a "plain\t''
json\t''"
complete -c standby -n "__fish_standby_using_subcommand man" -s v -l verbose -d 'More log detail on stderr: -v debug, -vv trace (`STANDBY_LOG` overrides both)'
complete -c standby -n "__fish_standby_using_subcommand man" -s q -l quiet -d 'Only warnings and errors on stderr'
complete -c standby -n "__fish_standby_using_subcommand man" -s h -l help -d 'Print help'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "serve" -d 'Watch the primary and fail over automatically (the systemd service)'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "failover" -d 'Move traffic to the standby region now'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "failback" -d 'Move traffic back to the primary region'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "status" -d 'Show the state, the last verdict, any running run and the last report'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "validate" -d 'Check a config and its runbooks; exit 0 if valid, 2 if not'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "sync" -d 'Sync artifact sets to the standby now (all sets, or the one named)'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "drill" -d 'Rehearse: `standby` scales the standby up, verifies and probes it, scales it back (DNS untouched); `full` fails over and back in one run'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "check" -d 'Send a synthetic inference request to a side now and show every check (readiness)'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "report" -d 'List or show run reports'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "approve" -d 'Approve a failover that waits for approval (manual mode)'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "pause" -d 'Stop all actions (observation, probes and syncs go on) until `standby resume`'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "resume" -d 'Allow actions again after `standby pause`'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "ack" -d 'Lift the cooldown after an automatic failover, and clear an escalated failover that used up its attempts: automatic failover may act again'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "iam-policy" -d 'Print the least-privilege IAM policy for the host that runs standby with this config'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "migrate-state" -d 'Copy this host\'s local state (state_dir) into the shared store of `[state] backend = "s3"`, so a second instance can join: stop `standby serve` first'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "completions" -d 'Print a shell completion script: `standby completions bash > /etc/bash_completion.d/standby`'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "man" -d 'Print the man page (roff): `standby man | man -l -`, or one command\'s (`standby man drill`)'
complete -c standby -n "__fish_standby_using_subcommand help; and not __fish_seen_subcommand_from serve failover failback status validate sync drill check report approve pause resume ack iam-policy migrate-state completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c standby -n "__fish_standby_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "list" -d 'Newest first: kind, result, RTO against the objective, and the trend of the last drills'
complete -c standby -n "__fish_standby_using_subcommand help; and __fish_seen_subcommand_from report" -f -a "show" -d 'Print one run\'s report (a run id, or a unique prefix or suffix of one)'
