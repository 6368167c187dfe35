//! Splitting a command line from the configuration (`ssh_command`) into
//! words, the one way every user of it does: rsync's transfer (`-e`, which
//! lowspace re-quotes from these words) and the ssh runs beside it (listing,
//! mkdir, probe) run the same argv.
//!
//! The syntax is the part of the POSIX shell's a command line needs:
//! words split on unquoted blanks; `'...'` keeps everything literally;
//! `"..."` keeps everything but `\"`, `\\`, `` \` `` and `\$`, which lose
//! their backslash; a backslash outside quotes makes the next character
//! literal; pieces next to each other join into one word
//! (`-o"ProxyJump nas"`). No shell runs the command, so nothing is expanded:
//! an unquoted `$`, `` ` ``, `;`, `|`, `&`, `<`, `>`, `(` or `)` is refused
//! rather than passed on as text the user meant a shell to act on.

use std::fmt;

/// Why a command line cannot be split. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLineError {
    /// Nothing but blanks: not even the program.
    Empty,
    /// A quote opened at this position is never closed.
    UnclosedQuote { quote: char, at: usize },
    /// The line ends in a backslash with nothing to escape.
    TrailingBackslash,
    /// Shell syntax no shell will act on.
    ShellSyntax { found: char, at: usize },
    /// The program (first word) is an empty string.
    EmptyProgram,
}

impl fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandLineError::Empty => {
                f.write_str("expected a command such as \"ssh -p 2222\", found only blanks")
            }
            CommandLineError::UnclosedQuote { quote, at } => write!(
                f,
                "the {} quote at character {at} is never closed",
                if *quote == '"' { "double" } else { "single" }
            ),
            CommandLineError::TrailingBackslash => {
                f.write_str("ends in a backslash that escapes nothing")
            }
            CommandLineError::ShellSyntax { found, at } => write!(
                f,
                "'{found}' at character {at} would need a shell, and this command is not run \
                 by one (nothing is expanded or redirected); write the value out, or quote it \
                 if it is meant literally"
            ),
            CommandLineError::EmptyProgram => f.write_str("the program name is empty"),
        }
    }
}

impl std::error::Error for CommandLineError {}

/// Splits `line` into words (see the module documentation).
pub fn split_command_line(line: &str) -> Result<Vec<String>, CommandLineError> {
    let mut words = Vec::new();
    // The word being built; `None` between words, so `""` still makes one.
    let mut word: Option<String> = None;
    let mut chars = line.chars().enumerate().map(|(i, c)| (i + 1, c));
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => current.push(c),
                        None => return Err(CommandLineError::UnclosedQuote { quote: '\'', at }),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '`' | '$'))) => current.push(c),
                            Some((_, c)) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(CommandLineError::UnclosedQuote { quote: '"', at }),
                        },
                        Some((_, c)) => current.push(c),
                        None => return Err(CommandLineError::UnclosedQuote { quote: '"', at }),
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, c)) => word.get_or_insert_with(String::new).push(c),
                None => return Err(CommandLineError::TrailingBackslash),
            },
            '$' | '`' | ';' | '|' | '&' | '<' | '>' | '(' | ')' => {
                return Err(CommandLineError::ShellSyntax { found: c, at })
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(done) = word {
        words.push(done);
    }
    match words.first() {
        None => Err(CommandLineError::Empty),
        Some(program) if program.is_empty() => Err(CommandLineError::EmptyProgram),
        Some(_) => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("ssh", &["ssh"]),
            (
                "  ssh   -p 2222\t-i key  ",
                &["ssh", "-p", "2222", "-i", "key"],
            ),
            (
                r#"ssh -p 2222 -i "/home/pi/my keys/nas""#,
                &["ssh", "-p", "2222", "-i", "/home/pi/my keys/nas"],
            ),
            (
                "ssh -i '/home/pi/my keys/nas'",
                &["ssh", "-i", "/home/pi/my keys/nas"],
            ),
            (
                r"ssh -i /home/pi/my\ keys/nas",
                &["ssh", "-i", "/home/pi/my keys/nas"],
            ),
            (
                r#"ssh -o"ProxyJump jump host" x"#,
                &["ssh", "-oProxyJump jump host", "x"],
            ),
            (r#"ssh "it's" 'say "hi"'"#, &["ssh", "it's", r#"say "hi""#]),
            (r#"ssh "a\"b\\c\$d\`e\nf""#, &["ssh", "a\"b\\c$d`e\\nf"]),
            ("ssh '' x", &["ssh", "", "x"]),
            ("ssh '$HOME;|&<>()'", &["ssh", "$HOME;|&<>()"]),
            (r"ssh \$HOME", &["ssh", "$HOME"]),
            ("ssh -i ~/.ssh/nas", &["ssh", "-i", "~/.ssh/nas"]),
            (
                "/usr/bin/ssh -o ProxyCommand=\"ssh -W %h:%p gw\"",
                &["/usr/bin/ssh", "-o", "ProxyCommand=ssh -W %h:%p gw"],
            ),
            ("dbclient -y ünï", &["dbclient", "-y", "ünï"]),
        ];
        for (line, words) in cases {
            assert_eq!(split_command_line(line).unwrap(), *words, "{line:?}");
        }
    }

    #[test]
    fn each_error_says_what_and_where() {
        let cases: &[(&str, CommandLineError, &str)] = &[
            ("", CommandLineError::Empty, "found only blanks"),
            (" \t ", CommandLineError::Empty, "found only blanks"),
            (
                "ssh -i \"/home/pi/my keys",
                CommandLineError::UnclosedQuote { quote: '"', at: 8 },
                "the double quote at character 8 is never closed",
            ),
            (
                "ssh -i \"x\\",
                CommandLineError::UnclosedQuote { quote: '"', at: 8 },
                "double quote at character 8",
            ),
            (
                "ssh 'it",
                CommandLineError::UnclosedQuote { quote: '\'', at: 5 },
                "the single quote at character 5 is never closed",
            ),
            (
                "ssh x\\",
                CommandLineError::TrailingBackslash,
                "ends in a backslash",
            ),
            (
                "ssh -i $HOME/.ssh/nas",
                CommandLineError::ShellSyntax { found: '$', at: 8 },
                "'$' at character 8 would need a shell",
            ),
            (
                "ssh nas; rm x",
                CommandLineError::ShellSyntax { found: ';', at: 8 },
                "';' at character 8",
            ),
            (
                "ssh `cat opts`",
                CommandLineError::ShellSyntax { found: '`', at: 5 },
                "'`' at character 5",
            ),
            (
                "ssh 2>/dev/null",
                CommandLineError::ShellSyntax { found: '>', at: 6 },
                "'>' at character 6",
            ),
            (
                "'' -p 22",
                CommandLineError::EmptyProgram,
                "program name is empty",
            ),
        ];
        for (line, error, text) in cases {
            let got = split_command_line(line).unwrap_err();
            assert_eq!(&got, error, "{line:?}");
            assert!(got.to_string().contains(text), "{line:?}: {got}");
        }
    }
}
