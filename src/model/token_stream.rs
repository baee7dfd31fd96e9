//! Incremental detokenisation: turning a growing list of token ids into text
//! pieces that can be streamed without ever splitting a UTF-8 character or a
//! word that the tokenizer would render differently once complete.

use tokenizers::Tokenizer;

use super::ModelError;

pub struct TokenStream<'a> {
    tokenizer: &'a Tokenizer,
    tokens: Vec<u32>,
    printed_until: usize,
    window_start: usize,
}

impl<'a> TokenStream<'a> {
    pub fn new(tokenizer: &'a Tokenizer) -> Self {
        Self {
            tokenizer,
            tokens: Vec::new(),
            printed_until: 0,
            window_start: 0,
        }
    }

    fn decode(&self, tokens: &[u32]) -> Result<String, ModelError> {
        self.tokenizer
            .decode(tokens, true)
            .map_err(|err| ModelError::Tokenizer {
                message: err.to_string(),
            })
    }

    /// Adds a token; returns the text that became final, if any.
    pub fn push(&mut self, token: u32) -> Result<Option<String>, ModelError> {
        let before = self.decode(&self.tokens[self.window_start..self.printed_until])?;
        self.tokens.push(token);
        let after = self.decode(&self.tokens[self.window_start..])?;
        if after.len() > before.len() && !after.ends_with('\u{FFFD}') {
            let piece = after.get(before.len()..).map(str::to_string);
            self.window_start = self.printed_until;
            self.printed_until = self.tokens.len();
            Ok(piece)
        } else {
            Ok(None)
        }
    }

    /// The text still held back at the end of generation.
    pub fn flush(&mut self) -> Result<Option<String>, ModelError> {
        let before = self.decode(&self.tokens[self.window_start..self.printed_until])?;
        let after = self.decode(&self.tokens[self.window_start..])?;
        self.printed_until = self.tokens.len();
        Ok(after
            .get(before.len()..)
            .filter(|rest| !rest.is_empty())
            .map(str::to_string))
    }

    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }
}
