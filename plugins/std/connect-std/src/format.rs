//! The part of Java's `SimpleDateFormat` that timestamp formats use, in UTC: `y M d H h a m s S`,
//! the zone letters `X Z`, `'quoted'` literals and `''`. Any other pattern letter is refused when
//! the transform is configured, never guessed.

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    /// A numeric field and its letter count (the minimum digits).
    Number(Field, usize),
    /// `a`: AM / PM.
    AmPm,
    /// `X`, `XX`, `XXX`: ISO 8601 offset (`Z` for UTC).
    IsoOffset(usize),
    /// `Z`: RFC 822 offset (`+0000`).
    Rfc822,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Year,
    Month,
    Day,
    Hour24,
    Hour12,
    Minute,
    Second,
    Millisecond,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles a `SimpleDateFormat` pattern.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        let mut literal = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                let end = chars[i + 1..].iter().position(|&q| q == '\'').ok_or("unterminated quote")?;
                literal.extend(&chars[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                i += 1;
                continue;
            }
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(match c {
                'y' | 'u' => Token::Number(Field::Year, run),
                'M' if run <= 2 => Token::Number(Field::Month, run),
                'd' => Token::Number(Field::Day, run),
                'H' => Token::Number(Field::Hour24, run),
                'h' => Token::Number(Field::Hour12, run),
                'm' => Token::Number(Field::Minute, run),
                's' => Token::Number(Field::Second, run),
                'S' => Token::Number(Field::Millisecond, run),
                'a' => Token::AmPm,
                'X' if run <= 3 => Token::IsoOffset(run),
                'Z' => Token::Rfc822,
                other => return Err(format!("pattern letter '{}' is not supported", other.to_string().repeat(run))),
            });
            i += run;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self { source: pattern.to_string(), tokens })
    }

    /// The pattern as configured.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Formats epoch milliseconds (UTC).
    pub fn format(&self, ms: i64) -> String {
        let days = ms.div_euclid(86_400_000);
        let of_day = ms.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (hour, minute, second, milli) =
            (of_day / 3_600_000, of_day / 60_000 % 60, of_day / 1000 % 60, of_day % 1000);
        let mut out = String::with_capacity(32);
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Number(field, width) => {
                    let v = match field {
                        Field::Year if *width == 2 => y.rem_euclid(100),
                        Field::Year => y,
                        Field::Month => i64::from(m),
                        Field::Day => i64::from(d),
                        Field::Hour24 => hour,
                        Field::Hour12 => (hour + 11) % 12 + 1,
                        Field::Minute => minute,
                        Field::Second => second,
                        Field::Millisecond => milli,
                    };
                    push_padded(&mut out, v, *width);
                }
                Token::AmPm => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                Token::IsoOffset(_) => out.push('Z'),
                Token::Rfc822 => out.push_str("+0000"),
            }
        }
        out
    }

    /// Parses text in this pattern to epoch milliseconds (UTC unless the text carries an offset).
    pub fn parse(&self, text: &str) -> Result<i64, String> {
        let bytes = text.as_bytes();
        let mut at = 0;
        let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut ms) = (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
        let (mut pm, mut offset_minutes) = (None, 0i64);
        for (n, token) in self.tokens.iter().enumerate() {
            match token {
                Token::Literal(lit) => {
                    if !text[at..].starts_with(lit.as_str()) {
                        return Err(format!("expected '{lit}' at position {at}"));
                    }
                    at += lit.len();
                }
                Token::Number(field, width) => {
                    // Adjacent numeric fields take exactly their width; a last or delimited one
                    // takes every digit there is.
                    let fixed = matches!(self.tokens.get(n + 1), Some(Token::Number(..)));
                    let available = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let take = if fixed { (*width).min(available) } else { available };
                    let negative_year = *field == Field::Year && bytes.get(at) == Some(&b'-');
                    if take == 0 && !negative_year {
                        return Err(format!("expected a number at position {at}"));
                    }
                    let v: i64 = text[at..at + take].parse().map_err(|_| format!("bad number at position {at}"))?;
                    at += take;
                    match field {
                        Field::Year if *width == 2 && take == 2 => y = 2000 + v,
                        Field::Year => y = v,
                        Field::Month => mo = v,
                        Field::Day => d = v,
                        Field::Hour24 | Field::Hour12 => h = v,
                        Field::Minute => mi = v,
                        Field::Second => s = v,
                        Field::Millisecond => ms = v,
                    }
                }
                Token::AmPm => {
                    let word = text.get(at..at + 2).unwrap_or_default().to_ascii_uppercase();
                    pm = Some(match word.as_str() {
                        "AM" => false,
                        "PM" => true,
                        _ => return Err(format!("expected AM or PM at position {at}")),
                    });
                    at += 2;
                }
                Token::IsoOffset(_) | Token::Rfc822 => {
                    if bytes.get(at) == Some(&b'Z') {
                        at += 1;
                        continue;
                    }
                    let sign = match bytes.get(at) {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(format!("expected a zone offset at position {at}")),
                    };
                    at += 1;
                    let digits: String = text[at..].chars().filter(|c| *c != ':').take(4).collect();
                    let hours: i64 = digits.get(0..2).and_then(|d| d.parse().ok()).ok_or("bad zone offset")?;
                    let minutes: i64 = digits.get(2..4).and_then(|d| d.parse().ok()).unwrap_or(0);
                    let consumed = text[at..].chars().take_while(|c| c.is_ascii_digit() || *c == ':').count();
                    at += consumed;
                    offset_minutes = sign * (hours * 60 + minutes);
                }
            }
        }
        if at != text.len() {
            return Err(format!("unexpected text '{}' at position {at}", &text[at..]));
        }
        if let Some(pm) = pm {
            h = h % 12 + if pm { 12 } else { 0 };
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return Err("a field is out of range".into());
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        Ok(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + ms - offset_minutes * 60_000)
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `v` in decimal, zero-padded to `width` digits (as `format!("{v:0width$}")`, without its machinery:
/// this runs for every field of every formatted timestamp).
fn push_padded(out: &mut String, v: i64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    // The sign counts towards the width, as in format!.
    let len = digits.len() - at + usize::from(v < 0);
    for _ in len..width {
        out.push('0');
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn formats_and_parses_in_utc() {
        let ms = 1_767_225_600_000 + 13 * 3_600_000 + 5 * 60_000 + 7_089; // 2026-01-01 13:05:07.089
        assert_eq!(Pattern::compile("yyyyMMdd").unwrap().format(ms), "20260101");
        assert_eq!(Pattern::compile("yyyy-MM-dd'T'HH:mm:ss.SSSX").unwrap().format(ms), "2026-01-01T13:05:07.089Z");
        assert_eq!(Pattern::compile("yy/M/d h:mm a ''Z''").unwrap().format(ms), "26/1/1 1:05 PM '+0000'");
        assert_eq!(Pattern::compile("yyyyMMddHH").unwrap().format(-1), "1969123123");
        let p = Pattern::compile("yyyy-MM-dd HH:mm:ss.SSS").unwrap();
        assert_eq!(p.parse(&p.format(ms)), Ok(ms));
        assert!(Pattern::compile("EEE yyyy").unwrap_err().contains("'EEE'"));
        assert!(Pattern::compile("'open").is_err());
    }

    #[test]
    fn padding_matches_format() {
        for v in [0i64, 5, -5, 42, 999, -1000, 2024, 123_456_789, i64::MIN, i64::MAX] {
            for width in 0..6 {
                let mut out = String::new();
                super::push_padded(&mut out, v, width);
                assert_eq!(out, format!("{v:0width$}"), "{v} in {width}");
            }
        }
    }
}
