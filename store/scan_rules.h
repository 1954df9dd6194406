/*
 * scan_rules.h - the built-in rules of the secret scanner (private to
 * store/scan.c, which includes it once).
 *
 * The token formats follow the families of gitleaks' default set (AWS,
 * GitHub, GitLab, Slack, Stripe, private keys, OpenAI, Anthropic, Google,
 * JWT, credentials in URLs) and the seed's assignment patterns (api_key,
 * secret_key, password/passwd/pwd, token). The regexes are written for
 * this project; docs/internals/scanner.md gives the reasoning and the
 * sources of the formats. Order matters: when two rules catch the same
 * secret, the earlier (more specific) one is reported.
 *
 * Every regex names the secret with the group "secret"; the assignment
 * rules also name the variable ("name"), the URL rule the user ("user").
 * They are compiled without PCRE2_UTF so that any byte sequence can be
 * scanned.
 */
#ifndef STORE_SCAN_RULES_H
#define STORE_SCAN_RULES_H

/* Filters a rule asks for (scan.c applies them after the regex). */
enum {
	/* A structured token: drop EXAMPLE/xxxx bodies, runs of one
	 * character and sequences such as "0123456789abcdef". */
	SCAN_F_TOKEN = 1 << 0,
	/* A generic name = value assignment: stopwords, placeholders,
	 * templates, env lookups, identifiers, numbers, UUIDs, paths, and
	 * names that are about a secret rather than one (token_count). */
	SCAN_F_ASSIGN = 1 << 1,
	/* The unquoted form of an assignment: the value must also mix
	 * letters and digits. */
	SCAN_F_BARE = 1 << 2,
	/* user:password@ in a URL: placeholders and templates only. */
	SCAN_F_URL = 1 << 3
};

struct scan_rule_def {
	const char *id;       /* reported as hit->rule */
	const char *pattern;  /* PCRE2, group "secret" is the secret */
	const char *keywords; /* '|'-separated, lower case; the regex runs
	                         only when one occurs (NULL: always) */
	const char *prefixes; /* '|'-separated literal prefixes shown in the
	                         fingerprint (at most 4 characters) */
	double entropy;       /* Shannon bits/char the secret must exceed */
	unsigned flags;       /* SCAN_F_* */
};

/* Names that mark a secret in an assignment. Kept in one place so the
 * quoted and the unquoted rules agree. */
#define SCAN_NAME_WORDS                                                    \
	"(?:api[_.-]?key|secret|passw(?:or)?d|pwd|token|private[_.-]?key|" \
	"access[_.-]?key|auth[_.-]?key|credential|"                        \
	"(?<![A-Za-z])pass(?:phrase)?(?![A-Za-z]))"
#define SCAN_NAME_KEYWORDS \
	"api|secret|pass|pwd|token|private|access|auth|credential"

static const struct scan_rule_def scan_rules[] = {
	/* AWS access key ids: a 4-letter type prefix and 16 base32
	 * characters. AWS' own documentation key ends in EXAMPLE. */
	{ "aws-access-key-id",
	    "\\b(?<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\\b",
	    "akia|asia|abia|acca|a3t", "AKIA|ASIA|ABIA|ACCA|A3T", 3.0,
	    SCAN_F_TOKEN },
	/* The 40-character secret key has no prefix: only a name that
	 * says "aws ... secret/key" next to it makes it one. Above 4 bits
	 * a char, so a 40-hex SHA-1 (at most 4.0) is not taken for it. */
	{ "aws-secret-access-key",
	    "(?i)\\baws[\\w.-]{0,20}?(?:secret|key|token|pass)[\\w.-]{0,20}"
	    "[\"']?[ \\t]{0,16}(?::=|=>|=|:)[ \\t]{0,16}[\"']?"
	    "(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	    "aws", NULL, 4.0, SCAN_F_TOKEN },
	{ "github-pat", "\\b(?<secret>ghp_[0-9A-Za-z]{36})\\b", "ghp_", "ghp_",
	    3.0, SCAN_F_TOKEN },
	{ "github-oauth", "\\b(?<secret>gho_[0-9A-Za-z]{36})\\b", "gho_",
	    "gho_", 3.0, SCAN_F_TOKEN },
	{ "github-app-token", "\\b(?<secret>(?:ghu|ghs)_[0-9A-Za-z]{36})\\b",
	    "ghu_|ghs_", "ghu_|ghs_", 3.0, SCAN_F_TOKEN },
	{ "github-refresh-token", "\\b(?<secret>ghr_[0-9A-Za-z]{36})\\b",
	    "ghr_", "ghr_", 3.0, SCAN_F_TOKEN },
	{ "github-fine-grained-pat",
	    "\\b(?<secret>github_pat_[0-9A-Za-z_]{82})\\b", "github_pat_",
	    "github_pat_", 3.0, SCAN_F_TOKEN },
	{ "gitlab-pat", "\\b(?<secret>glpat-[0-9A-Za-z_-]{20,})", "glpat-",
	    "glpat-", 3.0, SCAN_F_TOKEN },
	/* Slack tokens carry numeric team/user ids between dashes, which
	 * keeps "xoxb-your-token" style placeholders out. */
	{ "slack-token",
	    "\\b(?<secret>xox[abeoprs]-(?:[0-9]+-){1,3}[0-9A-Za-z-]{8,})",
	    "xox", "xoxa|xoxb|xoxe|xoxo|xoxp|xoxr|xoxs", 3.0, SCAN_F_TOKEN },
	{ "slack-webhook",
	    "(?<secret>hooks\\.slack\\.com/(?:services|workflows|triggers)/"
	    "[A-Za-z0-9+/]{43,56})",
	    "hooks.slack.com", NULL, 3.0, SCAN_F_TOKEN },
	/* The seed's sk_live_/sk_test_; test keys get their own id so a
	 * policy could treat them differently later. */
	{ "stripe-live-key",
	    "\\b(?<secret>(?:sk|rk)_(?:live|prod)_[0-9A-Za-z]{10,99})\\b",
	    "sk_live|rk_live|sk_prod|rk_prod",
	    "sk_live_|rk_live_|sk_prod_|rk_prod_", 2.5, SCAN_F_TOKEN },
	{ "stripe-test-key",
	    "\\b(?<secret>(?:sk|rk)_test_[0-9A-Za-z]{10,99})\\b",
	    "sk_test|rk_test", "sk_test_|rk_test_", 2.5, SCAN_F_TOKEN },
	/* A private key block needs its body: code that merely compares a
	 * line with the header is not a key. The body may follow real line
	 * breaks or "\n" escapes (a key inside a JSON string), after
	 * optional PEM headers (Proc-Type, Version). The secret is the
	 * first body line. */
	{ "private-key",
	    "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
	    "(?:\\s|\\\\[rn]){1,8}"
	    "(?:[A-Za-z-]{1,40}:[^\\r\\n\\\\]{0,200}(?:\\s|\\\\[rn]){1,8}){0,4}"
	    "(?<secret>[A-Za-z0-9+/=]{40,})",
	    "private key", NULL, 3.0, 0 },
	/* Anthropic before OpenAI: both start with "sk-". */
	{ "anthropic-api-key",
	    "\\b(?<secret>sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{60,})"
	    "(?![A-Za-z0-9_-])",
	    "sk-ant-", "sk-ant-", 3.0, SCAN_F_TOKEN },
	/* Project, service-account and admin keys; legacy keys with the
	 * base64 of "OpenAI" (T3BlbkFJ) in the middle; legacy 48-char. */
	{ "openai-api-key",
	    "\\b(?<secret>sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|"
	    "[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}|[A-Za-z0-9]{48}))"
	    "(?![A-Za-z0-9_-])",
	    "sk-", "sk-proj-|sk-svcacct-|sk-admin-|sk-", 3.0, SCAN_F_TOKEN },
	{ "gcp-api-key", "\\b(?<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])",
	    "aiza", "AIza", 3.0, SCAN_F_TOKEN },
	/* Header and payload are base64url JSON objects ("eyJ" is '{"'). */
	{ "jwt",
	    "\\b(?<secret>eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\."
	    "[A-Za-z0-9_-]{16,})",
	    "eyj", "eyJ", 3.0, SCAN_F_TOKEN },
	/* scheme://user:password@host. No entropy gate: "hunter2" is a
	 * real password; placeholders and templates are filtered. */
	{ "url-credentials",
	    "\\b[A-Za-z][A-Za-z0-9+.-]{1,20}://"
	    "(?<user>[^\\s/:@'\"`<>]{1,64}):"
	    "(?<secret>[^\\s/@'\"`]{3,128})@[^\\s/@'\"`]",
	    "://", NULL, 0.0, SCAN_F_URL },
	{ "bearer-token",
	    "(?i)\\bbearer[ \\t]+(?<secret>[A-Za-z0-9_.~+/-]{20,400}=*)",
	    "bearer", NULL, 3.0, SCAN_F_ASSIGN },
	/*
	 * name = "value" in any of the usual syntaxes (Python, JS, Go :=,
	 * PHP =>, YAML and JSON colons, comparisons, annotations such as
	 * `api_key: str = "..."`). The regex starts at
	 * the secret word so PCRE2 can skip ahead quickly; scan.c extends
	 * the name backwards. The id reported depends on the name
	 * (password-assignment, api-key-assignment, ...).
	 */
	{ "secret-assignment",
	    "(?i)" SCAN_NAME_WORDS "(?<tail>[A-Za-z0-9_.-]{0,30})[\"']?\\]?"
	    "[ \\t]{0,16}"
	    "(?::[ \\t]*[A-Za-z_][A-Za-z0-9_.\\[\\], |]{0,40}?[ \\t]*=(?!=)|"
	    ":=|==|=>|=|:)"
	    "[ \\t]{0,16}(?:[rbuRBU]{1,2})?"
	    "(?<q>[\"'`])(?<secret>[^\"'`\\s\\\\]{6,200})\\k<q>",
	    SCAN_NAME_KEYWORDS, NULL, 0.0, SCAN_F_ASSIGN },
	/* NAME=value without quotes (.env, YAML, INI), one per line, with
	 * an optional trailing comment. */
	{ "secret-assignment",
	    "(?im)^[ \\t]*(?:export[ \\t]+)?"
	    "(?<name>[A-Za-z0-9_.-]{0,40}?" SCAN_NAME_WORDS
	    "[A-Za-z0-9_.-]{0,30})"
	    "[ \\t]*(?:=|:)[ \\t]*"
	    "(?<secret>[^\\s\"'`#;,(){}\\[\\]<>$\\\\]{8,200})"
	    "[ \\t]*(?:#[^\\n]*)?\\r?$",
	    SCAN_NAME_KEYWORDS, NULL, 0.0, SCAN_F_ASSIGN | SCAN_F_BARE },
};

#endif
