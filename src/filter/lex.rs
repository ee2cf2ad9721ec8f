//! Tokenizer for filter expressions, written with nom.
//!
//! Words follow libpcap's scanner for the syntax exflow supports: a word is a
//! run of letters, digits and `_ . : -`, so `10.0.0.1`, `2001:db8::1`, `1024-65535` and `mail.example`
//! are one token each, and a backslash before a word (`\tcp`) makes a keyword
//! into a plain value. Operators exflow does not evaluate (`[`, `<=`, `&`, ...)
//! become tokens too, so the parser can name them in its error.

use std::ops::Range;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, multispace0, one_of};
use nom::combinator::{map, recognize, value};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::error::{FilterError, FilterErrorKind};
use super::names::{Keyword, is_unsupported_keyword};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind<'a> {
    /// A keyword exflow implements; `&&`, `||` and `!` arrive as `and`, `or`
    /// and `not`.
    Keyword(Keyword),
    /// An address, number, name or range, or an escaped keyword without its
    /// backslash.
    Value(&'a str),
    LParen,
    RParen,
    Slash,
    /// A libpcap keyword or operator that exflow does not implement.
    Unsupported(&'a str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind<'a>,
    /// Byte offsets of the token in the expression.
    pub start: usize,
    pub end: usize,
}

impl Token<'_> {
    pub(crate) fn span(&self) -> Range<usize> {
        self.start..self.end
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

fn classify_word(word: &str) -> TokenKind<'_> {
    if let Some(keyword) = Keyword::from_word(word) {
        TokenKind::Keyword(keyword)
    } else if is_unsupported_keyword(word) {
        TokenKind::Unsupported(word)
    } else {
        TokenKind::Value(word)
    }
}

/// Parses one token; the input starts at a non-space character.
fn parse_filter_token(i: &str) -> IResult<&str, TokenKind<'_>> {
    alt((
        value(TokenKind::Keyword(Keyword::And), tag("&&")),
        value(TokenKind::Keyword(Keyword::Or), tag("||")),
        // Two-character operators go before their one-character prefixes so
        // that `!=` is not read as `not` followed by `=`.
        map(
            alt((
                tag("!="),
                tag("=="),
                tag("<="),
                tag(">="),
                tag("<<"),
                tag(">>"),
            )),
            TokenKind::Unsupported,
        ),
        value(TokenKind::Keyword(Keyword::Not), char('!')),
        value(TokenKind::LParen, char('(')),
        value(TokenKind::RParen, char(')')),
        value(TokenKind::Slash, char('/')),
        map(recognize(one_of("[]<>=&|+*%^")), TokenKind::Unsupported),
        map(
            preceded(char('\\'), take_while1(is_word_char)),
            TokenKind::Value,
        ),
        map(take_while1(is_word_char), classify_word),
    ))
    .parse(i)
}

/// Splits `expression` into tokens.
pub(crate) fn tokenize(expression: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut tokens = Vec::new();
    let mut rest = expression;
    loop {
        let (after_space, _) =
            multispace0::<&str, nom::error::Error<&str>>(rest).unwrap_or((rest, ""));
        if after_space.is_empty() {
            return Ok(tokens);
        }

        let start = expression.len() - after_space.len();
        match parse_filter_token(after_space) {
            Ok((after_token, kind)) => {
                let end = expression.len() - after_token.len();
                tokens.push(Token { kind, start, end });
                rest = after_token;
            }
            Err(_) => {
                let character = after_space.chars().next().unwrap_or(' ');
                let span = start..start + character.len_utf8();
                return Err(FilterError::new(
                    expression,
                    span,
                    FilterErrorKind::UnexpectedCharacter { character },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(expression: &str) -> Vec<TokenKind<'_>> {
        tokenize(expression)
            .unwrap()
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn addresses_and_ranges_are_one_word() {
        assert_eq!(
            kinds("host 2001:db8::1 or portrange 1024-65535"),
            vec![
                TokenKind::Keyword(Keyword::Host),
                TokenKind::Value("2001:db8::1"),
                TokenKind::Keyword(Keyword::Or),
                TokenKind::Keyword(Keyword::Portrange),
                TokenKind::Value("1024-65535"),
            ]
        );
    }

    #[test]
    fn symbolic_operators() {
        assert_eq!(
            kinds("!tcp&&(udp||ip6)"),
            vec![
                TokenKind::Keyword(Keyword::Not),
                TokenKind::Keyword(Keyword::Tcp),
                TokenKind::Keyword(Keyword::And),
                TokenKind::LParen,
                TokenKind::Keyword(Keyword::Udp),
                TokenKind::Keyword(Keyword::Or),
                TokenKind::Keyword(Keyword::Ip6),
                TokenKind::RParen,
            ]
        );
    }

    #[test]
    fn cidr_slash_is_its_own_token() {
        assert_eq!(
            kinds("net 10.0.0.0/8"),
            vec![
                TokenKind::Keyword(Keyword::Net),
                TokenKind::Value("10.0.0.0"),
                TokenKind::Slash,
                TokenKind::Value("8"),
            ]
        );
    }

    #[test]
    fn escaped_keyword_is_value() {
        assert_eq!(
            kinds("proto \\tcp"),
            vec![TokenKind::Keyword(Keyword::Proto), TokenKind::Value("tcp")]
        );
    }

    #[test]
    fn byte_accessor_tokens() {
        assert_eq!(
            kinds("tcp[13] != 0"),
            vec![
                TokenKind::Keyword(Keyword::Tcp),
                TokenKind::Unsupported("["),
                TokenKind::Value("13"),
                TokenKind::Unsupported("]"),
                TokenKind::Unsupported("!="),
                TokenKind::Value("0"),
            ]
        );
    }

    #[test]
    fn token_offsets() {
        let tokens = tokenize("  host\t10.0.0.1 ").unwrap();
        assert_eq!(tokens[0].span(), 2..6);
        assert_eq!(tokens[1].span(), 7..15);
    }

    #[test]
    fn unexpected_character_position() {
        let error = tokenize("host 10.0.0.1 $x").unwrap_err();
        assert_eq!(
            error.kind(),
            &FilterErrorKind::UnexpectedCharacter { character: '$' }
        );
        assert_eq!(error.column(), 15);
    }

    #[test]
    fn non_ascii_character_rejected() {
        let error = tokenize("host　10.0.0.1").unwrap_err();
        assert_eq!(
            error.kind(),
            &FilterErrorKind::UnexpectedCharacter { character: '　' }
        );
        assert_eq!(error.column(), 5);
        assert_eq!(error.span(), 4..7);
    }
}
