//! Kafka's `sasl.jaas.config` values (`org.apache.kafka.common.security.JaasConfig`): one
//! login module, its control flag and its options, ended by `;`:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required
//!     username="admin" password="admin-secret" user_alice="alice-secret";
//! ```
//!
//! As Kafka's parser (a Java `StreamTokenizer`): words are letters, digits and `._$-`; values
//! are words or strings quoted with `"` or `'`, in which a backslash escapes (`\"`, `\\`,
//! `\n`, `\t`, octal `\123`, …); `//` and `/* */` are comments; the flag is one of
//! `required`, `requisite`, `sufficient`, `optional`, in any case. Stricter than Kafka: an
//! option given twice, a quoted option name and a quoted string left open at the end of its
//! line are refused instead of silently taken.
//!
//! The values are passwords, so no error message quotes one: errors name the option, the
//! login module or what was expected, never a value.

use std::collections::BTreeMap;

/// One `sasl.jaas.config` value.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasConfig {
    /// The login module's class: which mechanism's users and credentials these are.
    pub login_module: String,
    /// `required`, `requisite`, `sufficient` or `optional`, in lower case.
    pub control_flag: String,
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasConfig {
    /// Option names only: the values are passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasConfig")
            .field("login_module", &self.login_module)
            .field("control_flag", &self.control_flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The control flags JAAS knows (Kafka accepts them all and ignores which one it is).
const CONTROL_FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

/// The prefix of PlainLoginModule's user options: `user_alice="alice-secret"`.
const PLAIN_USER_PREFIX: &str = "user_";

impl JaasConfig {
    /// Parses a `sasl.jaas.config` value holding exactly one login module (Kafka refuses more
    /// in this property).
    pub fn parse(text: &str) -> Result<JaasConfig, String> {
        let mut lexer = Lexer::new(text);
        let mut modules = Vec::new();
        while let Some(token) = lexer.next().map_err(|e| e.outside_options())? {
            modules.push(parse_module(token, &mut lexer)?);
        }
        match modules.len() {
            0 => Err("sasl.jaas.config names no login module".to_string()),
            1 => Ok(modules.remove(0)),
            n => Err(format!(
                "sasl.jaas.config names {n} login modules; it takes exactly one"
            )),
        }
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The users PlainLoginModule lets in: each `user_NAME="password"` option, by NAME.
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(key, password)| {
                let name = key.strip_prefix(PLAIN_USER_PREFIX)?;
                (!name.is_empty()).then(|| (name.to_string(), password.clone()))
            })
            .collect()
    }
}

/// `class flag key=value … ;` after its first token.
fn parse_module(first: Token, lexer: &mut Lexer) -> Result<JaasConfig, String> {
    let Token::Word(login_module) = first else {
        return Err("expected a login module class name at the start of an entry".to_string());
    };
    let flag = match lexer.next().map_err(|e| e.outside_options())? {
        Some(Token::Word(flag)) => flag.to_ascii_lowercase(),
        None => return Err(format!("login module {login_module} has no control flag")),
        Some(_) => String::new(),
    };
    if !CONTROL_FLAGS.contains(&flag.as_str()) {
        return Err(format!(
            "login module {login_module}: the control flag must be one of {}",
            CONTROL_FLAGS.join(", ")
        ));
    }
    let mut options = BTreeMap::new();
    let mut last_key: Option<String> = None;
    loop {
        let context = |e: LexError| e.in_options(&login_module, last_key.as_deref());
        let key = match lexer.next().map_err(context)? {
            Some(Token::Semicolon) => break,
            Some(Token::Word(key)) => key,
            None => {
                return Err(format!(
                    "login module {login_module}: the entry is not ended by ';'"
                ))
            }
            Some(Token::Quoted(_)) => {
                return Err(format!(
                    "login module {login_module}: an option name must be a word, not a quoted \
                     string"
                ))
            }
            Some(Token::Equals) => {
                return Err(format!(
                    "login module {login_module}: '=' without an option name"
                ))
            }
        };
        let no_value = || format!("login module {login_module}: option '{key}' has no value");
        if lexer.next().map_err(|_| no_value())? != Some(Token::Equals) {
            return Err(no_value());
        }
        let value = match lexer.next().map_err(|e| e.in_value(&login_module, &key))? {
            Some(Token::Word(value) | Token::Quoted(value)) => value,
            _ => return Err(no_value()),
        };
        if options.insert(key.clone(), value).is_some() {
            return Err(format!(
                "login module {login_module}: option '{key}' is given twice"
            ));
        }
        last_key = Some(key);
    }
    Ok(JaasConfig {
        login_module,
        control_flag: flag,
        options,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// Letters, digits and `._$-`, unquoted.
    Word(String),
    /// A quoted string, escapes resolved.
    Quoted(String),
    Equals,
    Semicolon,
}

/// What the lexer can trip on; the parser words it, knowing where it was (and never quoting
/// the text, which may be a password).
#[derive(Debug, PartialEq, Eq)]
enum LexError {
    UnclosedQuote,
    UnclosedComment,
    UnexpectedCharacter,
}

impl LexError {
    fn outside_options(self) -> String {
        match self {
            LexError::UnclosedQuote => "a quoted string is not closed on its line".to_string(),
            LexError::UnclosedComment => "a /* comment is not closed".to_string(),
            LexError::UnexpectedCharacter => {
                "unexpected character outside a login module's options (quote values that are \
                 not plain words)"
                    .to_string()
            }
        }
    }

    fn in_options(self, module: &str, after_key: Option<&str>) -> String {
        let place = match after_key {
            Some(key) => format!("login module {module}, after option '{key}'"),
            None => format!("login module {module}, before its first option"),
        };
        match self {
            LexError::UnclosedQuote => format!("{place}: a quoted string is not closed"),
            LexError::UnclosedComment => format!("{place}: a /* comment is not closed"),
            LexError::UnexpectedCharacter => {
                format!("{place}: unexpected character (quote values that are not plain words)")
            }
        }
    }

    fn in_value(self, module: &str, key: &str) -> String {
        let place = format!("login module {module}: the value of option '{key}'");
        match self {
            LexError::UnclosedQuote => format!("{place} is not closed on its line"),
            LexError::UnclosedComment => format!("{place} is missing (a /* comment is open)"),
            LexError::UnexpectedCharacter => {
                format!("{place} is neither a word nor a quoted string (quote it)")
            }
        }
    }
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().peekable(),
        }
    }

    fn next(&mut self) -> Result<Option<Token>, LexError> {
        self.skip_blanks_and_comments()?;
        let Some(c) = self.chars.next() else {
            return Ok(None);
        };
        match c {
            '=' => Ok(Some(Token::Equals)),
            ';' => Ok(Some(Token::Semicolon)),
            '"' | '\'' => self.quoted(c).map(|s| Some(Token::Quoted(s))),
            c if is_word_char(c) => {
                let mut word = String::from(c);
                while let Some(c) = self.chars.next_if(|&c| is_word_char(c)) {
                    word.push(c);
                }
                Ok(Some(Token::Word(word)))
            }
            _ => Err(LexError::UnexpectedCharacter),
        }
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), LexError> {
        loop {
            while self.chars.next_if(|c| c.is_whitespace()).is_some() {}
            if self.chars.peek() != Some(&'/') {
                return Ok(());
            }
            self.chars.next();
            match self.chars.next() {
                Some('/') => while self.chars.next_if(|&c| c != '\n').is_some() {},
                Some('*') => self.skip_block_comment()?,
                _ => return Err(LexError::UnexpectedCharacter),
            }
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), LexError> {
        let mut star = false;
        for c in self.chars.by_ref() {
            if star && c == '/' {
                return Ok(());
            }
            star = c == '*';
        }
        Err(LexError::UnclosedComment)
    }

    /// The rest of a string opened by `quote`, with Java's escapes resolved.
    fn quoted(&mut self, quote: char) -> Result<String, LexError> {
        let mut value = String::new();
        loop {
            match self.chars.next() {
                None | Some('\n' | '\r') => return Err(LexError::UnclosedQuote),
                Some(c) if c == quote => return Ok(value),
                Some('\\') => value.push(self.escaped()?),
                Some(c) => value.push(c),
            }
        }
    }

    /// The character a backslash escapes: Java's `StreamTokenizer` escapes, anything else
    /// stands for itself.
    fn escaped(&mut self) -> Result<char, LexError> {
        let c = self.chars.next().ok_or(LexError::UnclosedQuote)?;
        Ok(match c {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '0'..='7' => {
                // Up to three octal digits, three only when the first is 0-3 (at most \377).
                let mut code = c.to_digit(8).unwrap_or(0);
                let digits_max = if c <= '3' { 3 } else { 2 };
                for _ in 1..digits_max {
                    match self.chars.next_if(|d| d.is_digit(8)) {
                        Some(d) => code = code * 8 + d.to_digit(8).unwrap_or(0),
                        None => break,
                    }
                }
                char::from_u32(code).unwrap_or('\u{fffd}')
            }
            other => other,
        })
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '$' | '-')
}

#[cfg(test)]
mod tests;
