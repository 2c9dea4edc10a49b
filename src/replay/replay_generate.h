/* replay_generate.h - the `torghut-replay generate` subcommand.
 *
 * Options (see --help): --seed N, --symbol SYM, --symbols N, --date
 * YYYY-MM-DD, --start HH:MM, --end HH:MM, --minutes M (regular-session
 * minutes after 09:30), --premarket M (minutes before 09:30), --rate R,
 * --messages N, --quote-share F, --dup-rate F, --ooo-rate F, --ooo-max-ms MS,
 * --price P, --updated-bars, --vary-digits, --fakepaca, --out FILE, --quiet.
 * The file is written as FILE.tmp and renamed on success. */
#pragma once

/* argv[0] is the subcommand name ("generate"). Returns the process exit
 * status: 0, 1 (error), 2 (usage). Prints only to stdout/stderr. */
int replay_generate_main(int argc, char **argv);
