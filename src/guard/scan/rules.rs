//! The pattern tables: what prompt injection, jailbreaks, system-prompt
//! extraction, social engineering and code payloads look like. Each table
//! compiles once into a `RegexSet` (one pass over the text answers "which
//! rules match") plus the individual regexes for the spans.
//!
//! Input patterns run over the canonical, lower-cased readings of a text
//! (see `normalize`), so they are written in lower case.

use regex::{Regex, RegexSet};

/// A table of named rules compiled together.
pub struct RuleTable {
    set: RegexSet,
    rules: Vec<(Rule, Regex)>,
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The scanner the rule belongs to (`injection`, `social_engineering`, …).
    pub scanner: &'static str,
    pub reason: &'static str,
    pub pattern: &'static str,
}

/// One rule that matched, with its span in the text it was run on.
#[derive(Debug, Clone)]
pub struct RuleMatch {
    pub rule: Rule,
    pub start: usize,
    pub end: usize,
}

impl RuleTable {
    pub fn new(rules: &[Rule]) -> Self {
        let set =
            RegexSet::new(rules.iter().map(|rule| rule.pattern)).expect("built-in rules compile");
        let rules = rules
            .iter()
            .map(|rule| {
                (
                    *rule,
                    Regex::new(rule.pattern).expect("built-in rule compiles"),
                )
            })
            .collect();
        Self { set, rules }
    }

    pub fn matches(&self, text: &str) -> Vec<RuleMatch> {
        self.set
            .matches(text)
            .into_iter()
            .flat_map(|index| {
                let (rule, regex) = &self.rules[index];
                regex.find_iter(text).map(|m| RuleMatch {
                    rule: *rule,
                    start: m.start(),
                    end: m.end(),
                })
            })
            .collect()
    }
}

/// "The call-back step is suspended", "do not call the supplier back", "do not
/// involve the Finance Manager": the pattern is shared by the input and
/// retrieval rules (lower-cased text) and the output rules (any case).
macro_rules! skips_a_control {
    () => {
        r"(\b(verification|call-?back|approval|security|four-eyes|dual control) (step|check|process|control|procedure)s? (is|are|has been|have been) (now )?(suspended|disabled|waived|skipped|no longer (required|needed))\b|\bdo not (call|phone|contact) (the )?(supplier|vendor|customer|them) back\b|\bdo not (involve|inform|tell|copy|cc) (the )?(finance manager|manager|security|it|your manager|colleagues)\b)"
    };
}

const SKIPS_A_CONTROL: &str =
    "tells readers to skip a security control or keep a payment change quiet";

/// Rules for advice in what the model wrote that a planted document may have
/// put there: an answer must never tell the reader to skip a control.
pub const OUTPUT_ADVICE_RULES: &[Rule] = &[rule(
    "social_engineering",
    SKIPS_A_CONTROL,
    concat!("(?i)", skips_a_control!()),
)];

const fn rule(scanner: &'static str, reason: &'static str, pattern: &'static str) -> Rule {
    Rule {
        scanner,
        reason,
        pattern,
    }
}

/// Rules for what a user (or a planted document) says to the assistant.
pub const INPUT_RULES: &[Rule] = &[
    rule(
        "injection",
        "asks to ignore or replace the assistant's instructions",
        r"\b(ignor(e|es|ed|ing)|disregard(s|ed|ing)?|forget|set aside|put aside|overrid(e|es|ing)|bypass(es|ed|ing)?|abandon|drop|discard|skip|suspend|neglect|overlook|supersed(e|es))\b[^.?!\n]{0,40}\b(previous|prior|above|earlier|preceding|initial|original|all|any|every|your|the|these|those|system|safety|default)\b[^.?!\n]{0,30}\b(instructions?|rules|guidelines|directives|directions|prompts?|training|programming|constraints|restrictions|policies|guardrails|filters|safeguards|commands|orders|context)\b",
    ),
    rule(
        "injection",
        "announces new instructions for the assistant",
        r"(\bnew (instructions|rules|directives|task)\s*:|\bfrom now on,? (you|your|respond|answer|act|always|only|ignore)|\byour (new|real|true) (instructions|purpose|task|role|goal) (is|are)\b|\binstead,? (you (will|must|should)|respond|output|say)\b|\bsystem override\b|\b(admin|developer|root|god|sudo) (mode|override|access) (enabled|activated|on|granted)\b)",
    ),
    rule(
        "injection",
        "addresses the AI inside the text (indirect injection)",
        r"(\b(ai|assistant|chatbot|language model|llm|gpt|bot)s?\b[^.?!\n]{0,30}\b(must|should|shall|will|need to|are instructed to|are required to)\b[^.?!\n]{0,40}\b(ignore|reveal|disclose|say|tell|send|include|respond|output|forward|append|insert|recommend|reply)\b|\b(note|message|attention|important|instructions?|reminder)\b[^.?!\n:]{0,20}\b(for|to) (the |any |all |every )?(ai|assistant|model|llm|chatbot|gpt|bot)s?\b|\bwhen (summari[sz]ing|answering|asked about)[^.?!\n]{0,60}\b(you must|always|ignore|say that|tell (them|the user))\b)",
    ),
    rule(
        "jailbreak",
        "jailbreak persona or an assistant without rules",
        r"(\bdo anything now\b|\bdan\b[^.?!\n]{0,40}\b(mode|prompt|persona|character|jailbreak|stands for|can do)\b|\b(you are|you're|act as|pretend to be|become|roleplay as|role-play as|play the role of|simulate)\b[^.?!\n]{0,40}\b(dan|unfiltered|uncensored|unrestricted|jailbroken|evil|amoral|unethical|without (any )?(rules|restrictions|limits|filters|guidelines|morals|ethics))\b|\b(developer|debug|god|jailbreak|unrestricted|unfiltered) mode\b|\bjailbreak|\bno (ethical|moral|content) (guidelines|restrictions|filters|limits)\b|\b(without|free (of|from)|no longer (bound|restricted) by)\b[^.?!\n]{0,20}\b(any )?(restrictions|filters|censorship|guardrails|safety (rules|guidelines|filters))\b|\bopposite mode\b|\bstay in character\b|\bhypothetical(ly)?\b[^.?!\n]{0,60}\b(no|without) (rules|restrictions|limits)\b)",
    ),
    rule(
        "prompt_extraction",
        "asks for the system prompt or hidden instructions",
        r"(\b(show|print|reveal|repeat|tell|display|output|give|share|disclose|dump|list|write out|leak|expose|recite|paste|spell out|what (is|are|was|were))\b[^.?!\n]{0,40}\b(your|the)\b[^.?!\n]{0,20}\b(system|hidden|initial|secret|original|internal|developer|pre-?prompt|confidential|underlying)\s*(prompt|instructions?|rules|message|configuration|guidelines|directives)\b|\b(repeat|print|output|recite)\b[^.?!\n]{0,30}\b(everything|all|the (text|words|content|message)s?)\b[^.?!\n]{0,20}\b(above|before|so far|preceding)\b|\bstarting with\b[^.?!\n]{0,10}\byou are\b|\b(what|which) (were you|have you been) (told|instructed|programmed)\b|\byour (system|initial|hidden) prompt\b)",
    ),
    rule(
        "social_engineering",
        "asks for someone else's credentials or one-time codes",
        r"(\b(give|send|tell|share|reveal|forward|read out|what is|what's|need|get)\b[^.?!\n]{0,40}\b(his|her|their|the ceo'?s|the cfo'?s|the admin'?s|an admin'?s|the administrator'?s|someone'?s|somebody'?s|another (user|employee|person)'?s|[a-z]+'s|all (the )?(users'?|employees'?|staff)|everyone'?s)\b[^.?!\n]{0,20}\b(password|passcode|pin|mfa|2fa|otp|one-time|verification|authentication|login|credentials|security) ?(code|codes|password|passwords|token|details)?\b|\b(mfa|2fa|otp|one-time|verification|authenticator) codes?\b[^.?!\n]{0,40}\b(send|give|read|forward|share|tell)\b|\b(send|give|share|forward)\b[^.?!\n]{0,20}\b(me|us)\b[^.?!\n]{0,20}\b(the )?(mfa|2fa|otp|one-time|verification) codes?\b)",
    ),
    rule(
        "social_engineering",
        "asks to change a supplier's or someone else's payment details",
        r"\b(change|update|replace|switch|modify|amend|redirect|set)\b[^.?!\n]{0,50}\b(bank|payment|banking|iban|account|remittance|wire|beneficiary)\b[^.?!\n]{0,15}\b(details|information|info|number|account)\b[^.?!\n]{0,60}\b(supplier|vendor|contractor|partner|customer|client|their|his|her|[a-z]+ (gmbh|ltd|inc|llc|ag|sa|bv)|company)\b",
    ),
    rule(
        "social_engineering",
        "impersonates an executive or IT, or presses for urgent payment or gift cards",
        r"(\b(this is|i am|i'm|it's|speaking is|message from)\b[^.?!\n]{0,10}\b(the )?(ceo|cfo|coo|cto|managing director|chief executive|chief financial|president|it (helpdesk|help desk|support|department|security)|your (boss|manager|director))\b|\bgift ?cards?\b|\b(urgent|urgently|immediately|right now|asap|right away|within the hour|before end of day)\b[^.?!\n]{0,60}\b(wire|transfer|payment|pay|invoice|funds)\b|\b(wire|transfer)\b[^.?!\n]{0,40}\b(urgent|urgently|immediately|asap|right away|confidential|discreet)\b|\bkeep (this|it) (confidential|between us|quiet|secret)\b)",
    ),
    rule("social_engineering", SKIPS_A_CONTROL, skips_a_control!()),
    rule(
        "exfiltration",
        "asks for bulk personal or confidential data",
        r"(\b(list|show|give|export|dump|send|print|reveal|tell)\b[^.?!\n]{0,15}\b(me )?(all|every|each|the full list of|the complete list of|everyone'?s)\b[^.?!\n]{0,40}\b(salar(y|ies)|home address(es)?|private address(es)?|passwords?|ssns?|social security numbers?|bank (details|accounts?)|credit cards?|personal (data|details|information)|phone numbers|medical|dates? of birth|national id)\b|!\[[^\]]*\]\(\s*https?://|\b(render|display|include|show|output)\b[^.?!\n]{0,30}\b(markdown )?image\b[^.?!\n]{0,60}https?://|\b(other|another) (tenant|customer|client)'?s\b[^.?!\n]{0,40}\b(data|documents|files|records|contracts?))",
    ),
    rule(
        "code_injection",
        "asks for or carries an attack payload",
        r#"(<\s*script\b|\bjavascript\s*:|\bon(error|load|mouseover|focus|click)\s*=|\bunion\s+(all\s+)?select\b|'\s*or\s+'?1'?\s*=\s*'?1|;\s*drop\s+(table|database)\b|\brm\s+-rf\b|\$\(\s*(curl|wget)\b|\b(curl|wget)\b[^|\n]{0,80}\|\s*(ba|z)?sh\b|\bnc\s+-e\b|/dev/tcp/|\b(write|give|generate|produce|create|craft|output|show me)\b[^.?!\n]{0,40}\b(sql injection|xss|cross-site scripting|payload|reverse shell|web shell|malware|keylogger|ransomware|exploit)\b)"#,
    ),
];

/// Rules for code payloads in what the model wrote.
pub const OUTPUT_CODE_RULES: &[Rule] = &[
    rule("code", "script tag", r"(?i)<\s*/?\s*script\b[^>]*>"),
    rule(
        "code",
        "HTML event handler",
        r#"(?i)\bon[a-z]{3,20}\s*=\s*["']?[^"'\s>]*"#,
    ),
    rule(
        "code",
        "javascript: URL",
        r"(?i)\b(?:javascript|vbscript)\s*:",
    ),
    rule(
        "code",
        "embedded frame or object",
        r"(?i)<\s*(?:iframe|object|embed|applet|base|meta|link)\b[^>]*>",
    ),
    rule(
        "code",
        "data: URL with HTML or script",
        r"(?i)\bdata\s*:\s*text/(?:html|javascript)",
    ),
    rule(
        "code",
        "SQL injection",
        r"(?i)(?:'|\x22|\b\d+)\s*\)*\s*\b(?:or|and)\s+(?:'?1'?\s*=\s*'?1'?|'a'\s*=\s*'a'|''\s*=\s*'|true\b)",
    ),
    rule("code", "SQL injection", r"(?i)'\s*(?:or|and)\s*''\s*=\s*'"),
    rule("code", "SQL injection", r"(?i)\w'\s*\)*\s*(?:--|#|/\*)"),
    rule(
        "code",
        "SQL injection",
        r"(?i)%27(?:%20|\+|\s)*(?:or|and|union|--|%2D%2D)",
    ),
    rule(
        "code",
        "SQL injection",
        r"(?i)'\s*union\s+(?:all\s+)?select\b|\bunion\s+(?:all\s+)?select\b[^\n]*\bfrom\s+(?:users|information_schema|pg_user|mysql\.user|sys\.)",
    ),
    rule(
        "code",
        "SQL injection",
        r"(?i);\s*(?:drop|truncate|delete|alter|shutdown|exec(?:ute)?|update|insert|grant)\b[^\n;`]*",
    ),
    rule(
        "code",
        "SQL injection",
        r"(?i)\b(?:xp_cmdshell|sleep\s*\(\s*\d+\s*\)|waitfor\s+delay|benchmark\s*\()",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i)\brm\s+-[a-z]*[rf][a-z]*\s+(?:-[-a-z]+\s+)*(?:/|~|\*|\$home)(?:[\s`'\x22)]|$)[^\n`]*",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i)\$\(\s*(?:curl|wget|nc|bash|sh|python|perl)\b[^)]*\)",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i)\b(?:curl|wget)\b[^|\n`]*\|\s*(?:sudo\s+)?(?:ba|z|k)?sh\b",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i)(?:&&|;)\s*(?:wget|nc|chmod\s+\+x|bash\s+-i)\b[^\n`]*",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i)\bnc\s+(?:-[a-z]*e|-c)\b|/dev/(?:tcp|udp)/|\bmkfifo\b|\bbash\s+-i\b",
    ),
    rule(
        "code",
        "shell command injection",
        r"(?i):\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:|\bpowershell\b[^\n`]*\s-(?:e|enc|encodedcommand)\s|\|\s*iex\b|\binvoke-expression\b|\bdd\s+if=/dev/(?:zero|random|urandom)\s+of=/dev/|\bmkfs(?:\.\w+)?\s+/dev/|\bos\.system\s*\(|\bsubprocess\.\w+\([^)]*shell\s*=\s*true|-disablerealtimemonitoring\b|\bchmod\s+(?:-r\s+)?777\s+/",
    ),
];
