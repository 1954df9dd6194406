/*
 * scan_rules.h - the built-in rules of the secret scanner (private to
 * store/scan.c, which includes it once).
 *
 * The providers and token formats follow the families of gitleaks'
 * default rule set (config/gitleaks.toml: cloud providers, VCS and CI,
 * chat and webhooks, payment, mail and SMS, package registries, database
 * URLs, private keys, JWTs, observability, AI providers and common SaaS)
 * and the seed's assignment patterns (api_key, secret_key,
 * password/passwd/pwd, token). The regexes are written for this project;
 * docs/internals/scanner.md gives the reasoning and the sources. Order
 * matters: when two rules catch the same secret, the earlier (more
 * specific) one is reported.
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
	SCAN_F_URL = 1 << 3,
	/* GitHub's and npm's token format: the last 6 base62 characters
	 * are the CRC32 of the 30 random ones before them. */
	SCAN_F_CRC32 = 1 << 4
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

/*
 * A token with a literal prefix of its own: the prefix ends the search
 * quickly and the body after it must look random (SCAN_F_TOKEN).
 */
#define SCAN_TOK(id, re, kw, pfx)                                              \
	{                                                                      \
		id, "(?<![A-Za-z0-9_])(?<secret>" re ")(?![A-Za-z0-9_-])", kw, \
		    pfx, 3.0, SCAN_F_TOKEN                                     \
	}

/*
 * A key without a prefix: only a name that contains the provider's word,
 * assigned the value (=, :, :=, =>, in code, .env, YAML or JSON), makes
 * it one. The word may sit anywhere in the name (MY_DATADOG_API_KEY).
 */
#define SCAN_NEAR(id, word, kw, value)                                    \
	{                                                                 \
		id,                                                       \
		    "(?i)" word "[\\w.-]{0,24}?[\"']?[ \\t]{0,8}"         \
		    "(?::=|=>|=|:)[ \\t]{0,8}[\"'`]?(?<secret>" value ")" \
		    "(?![A-Za-z0-9_-])",                                  \
		    kw, NULL, 3.0, SCAN_F_TOKEN                           \
	}

#define SCAN_UUID "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

static const struct scan_rule_def scan_rules[] = {
	/* --- Cloud providers ------------------------------------------ */
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
	SCAN_TOK("aws-bedrock-api-key", "ABSK[A-Za-z0-9+/]{100,300}={0,2}",
	    "absk", "ABSK"),
	SCAN_TOK("aws-mws-key", "amzn\\.mws\\." SCAN_UUID, "amzn.mws.",
	    "amzn.mws."),
	SCAN_TOK("gcp-api-key", "AIza[0-9A-Za-z_-]{35}", "aiza", "AIza"),
	/* A service-account key file names its key id beside the type. */
	{ "gcp-service-account",
	    "\"private_key_id\"[ \\t]*:[ \\t]*\"(?<secret>[a-f0-9]{40})\"",
	    "private_key_id", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_TOK("gcp-oauth-client-secret", "GOCSPX-[A-Za-z0-9_-]{28}",
	    "gocspx-", "GOCSPX-"),
	SCAN_TOK("google-oauth-access-token", "ya29\\.[0-9A-Za-z_-]{30,400}",
	    "ya29.", "ya29."),
	SCAN_TOK("google-oauth-refresh-token", "1//0[0-9A-Za-z_-]{40,400}",
	    "1//0", "1//0"),
	SCAN_TOK("firebase-cloud-messaging-key",
	    "AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}", "apa91b", "AAAA"),
	{ "azure-storage-account-key",
	    "(?i)AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)",
	    "accountkey=", NULL, 3.0, SCAN_F_TOKEN },
	{ "azure-sas-token",
	    "[?&]sv=[0-9-]{10}[^\\s\"'<>]{0,200}?[?&]sig="
	    "(?<secret>[A-Za-z0-9%+/]{40,100})",
	    "sig=", NULL, 3.0, SCAN_F_TOKEN },
	{ "azure-ad-client-secret",
	    "(?<![A-Za-z0-9_~.-])(?<secret>[A-Za-z0-9_~.]{3}[0-9]Q~"
	    "[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])",
	    "q~", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_TOK("azure-devops-pat",
	    "[A-Za-z0-9]{52}JQQJ99[A-Za-z0-9][A-C][A-Za-z0-9]{16}AZDO"
	    "[A-Za-z0-9]{4}",
	    "azdo", NULL),
	SCAN_NEAR("azure-devops-legacy-pat", "(?:azure|devops|vsts|ado_?pat)",
	    "azure|devops|vsts|ado", "[a-z2-7]{52}"),
	SCAN_NEAR("azure-openai-key", "azure[_.-]?openai", "azure",
	    "[a-f0-9]{32}"),
	SCAN_TOK("digitalocean-pat", "dop_v1_[a-f0-9]{64}", "dop_v1_", "dop_"),
	SCAN_TOK("digitalocean-oauth-token", "doo_v1_[a-f0-9]{64}", "doo_v1_",
	    "doo_"),
	SCAN_TOK("digitalocean-refresh-token", "dor_v1_[a-f0-9]{64}", "dor_v1_",
	    "dor_"),
	SCAN_TOK("alibaba-access-key-id", "LTAI[A-Za-z0-9]{20}", "ltai",
	    "LTAI"),
	SCAN_NEAR("alibaba-secret-key", "(?:alibaba|aliyun)", "alibaba|aliyun",
	    "[A-Za-z0-9]{30}"),
	SCAN_NEAR("ibm-cloud-api-key", "ibm", "ibm", "[A-Za-z0-9_-]{44}"),
	SCAN_NEAR("heroku-api-key", "heroku", "heroku", SCAN_UUID),
	SCAN_TOK("heroku-api-key-v2", "HRKU-AA[0-9A-Za-z_-]{58}", "hrku-",
	    "HRKU-AA"),
	SCAN_NEAR("linode-token", "linode", "linode", "[a-f0-9]{64}"),
	SCAN_TOK("scaleway-access-key", "SCW[A-Z0-9]{17}", "scw", "SCW"),
	SCAN_NEAR("scaleway-secret-key", "(?:scaleway|scw)", "scaleway|scw",
	    SCAN_UUID),
	SCAN_NEAR("cloudflare-api-token", "(?:cloudflare|cf_api)",
	    "cloudflare|cf_api", "[A-Za-z0-9_-]{40}"),
	SCAN_NEAR("cloudflare-global-api-key", "cloudflare", "cloudflare",
	    "[a-f0-9]{37}"),
	SCAN_TOK("cloudflare-origin-ca-key",
	    "v1\\.0-[a-f0-9]{24}-[a-f0-9]{146}", "v1.0-", "v1.0-"),
	SCAN_NEAR("fastly-api-token", "fastly", "fastly", "[A-Za-z0-9_-]{32}"),
	SCAN_TOK("netlify-pat", "nfp_[A-Za-z0-9]{36}", "nfp_", "nfp_"),
	SCAN_NEAR("netlify-access-token", "netlify", "netlify",
	    "[A-Za-z0-9_-]{40,46}"),
	SCAN_NEAR("vercel-token", "vercel", "vercel", "[A-Za-z0-9]{24}"),
	SCAN_TOK("flyio-token", "fo1_[A-Za-z0-9_-]{43}", "fo1_", "fo1_"),
	SCAN_TOK("render-api-key", "rnd_[A-Za-z0-9]{32}", "rnd_", "rnd_"),
	SCAN_TOK("supabase-token", "sbp_[a-f0-9]{40}", "sbp_", "sbp_"),
	SCAN_TOK("databricks-token", "dapi[a-f0-9]{32}(?:-[0-9])?", "dapi",
	    "dapi"),
	SCAN_TOK("openshift-token", "sha256~[A-Za-z0-9_-]{43}", "sha256~",
	    "sha256~"),
	SCAN_TOK("tailscale-key",
	    "tskey-(?:auth|api|client|scim|webhook)-[A-Za-z0-9]{10,}-"
	    "[A-Za-z0-9]{20,}",
	    "tskey-", "tskey-"),
	SCAN_NEAR("ngrok-token", "ngrok", "ngrok",
	    "[0-9A-Za-z]{27}_[0-9A-Za-z]{21}"),
	SCAN_TOK("yandex-api-key", "AQVN[A-Za-z0-9_-]{35,38}", "aqvn", "AQVN"),
	SCAN_NEAR("confluent-secret", "confluent", "confluent",
	    "[A-Za-z0-9+/]{64}"),
	/* --- Secret managers and infrastructure ----------------------- */
	SCAN_TOK("vault-service-token", "hvs\\.[A-Za-z0-9_-]{90,120}", "hvs.",
	    "hvs."),
	SCAN_TOK("vault-batch-token", "hvb\\.[A-Za-z0-9_-]{138,300}", "hvb.",
	    "hvb."),
	/* The regex starts at the literal (a leading character class would
	 * be tried at every position); the 14 characters before it are
	 * checked by a lookbehind. */
	{ "terraform-cloud-token",
	    "(?<=[A-Za-z0-9]{14}\\.)(?<secret>atlasv1\\.[A-Za-z0-9_=-]{60,70})"
	    "(?![A-Za-z0-9_=-])",
	    "atlasv1", "atlasv1.", 3.0, SCAN_F_TOKEN },
	SCAN_TOK("doppler-token",
	    "dp\\.(?:pt|st|ct|sa|scim|audit)\\.[A-Za-z0-9_.-]{40,64}", "dp.",
	    "dp."),
	SCAN_TOK("pulumi-token", "pul-[a-f0-9]{40}", "pul-", "pul-"),
	SCAN_TOK("1password-service-account-token",
	    "ops_eyJ[A-Za-z0-9+/]{250,}={0,3}", "ops_eyj", "ops_"),
	SCAN_TOK("1password-secret-key",
	    "A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-"
	    "[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
	    "a3-", "A3-"),
	SCAN_TOK("infracost-api-token", "ico-[A-Za-z0-9]{32}", "ico-", "ico-"),
	SCAN_TOK("planetscale-token",
	    "pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}", "pscale_",
	    "pscale_"),
	SCAN_TOK("age-secret-key",
	    "AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
	    "age-secret-key-1", "AGE-"),
	SCAN_TOK("sonarqube-token", "(?:squ|sqp|sqa)_[a-f0-9]{40}",
	    "squ_|sqp_|sqa_", "squ_|sqp_|sqa_"),
	SCAN_NEAR("snyk-token", "snyk", "snyk", SCAN_UUID),
	/* --- VCS and CI ----------------------------------------------- */
	{ "github-pat", "\\b(?<secret>ghp_[0-9A-Za-z]{36})\\b", "ghp_", "ghp_",
	    3.0, SCAN_F_TOKEN | SCAN_F_CRC32 },
	{ "github-oauth", "\\b(?<secret>gho_[0-9A-Za-z]{36})\\b", "gho_",
	    "gho_", 3.0, SCAN_F_TOKEN | SCAN_F_CRC32 },
	{ "github-app-token", "\\b(?<secret>(?:ghu|ghs)_[0-9A-Za-z]{36})\\b",
	    "ghu_|ghs_", "ghu_|ghs_", 3.0, SCAN_F_TOKEN | SCAN_F_CRC32 },
	{ "github-refresh-token", "\\b(?<secret>ghr_[0-9A-Za-z]{36})\\b",
	    "ghr_", "ghr_", 3.0, SCAN_F_TOKEN | SCAN_F_CRC32 },
	{ "github-fine-grained-pat",
	    "\\b(?<secret>github_pat_[0-9A-Za-z_]{82})\\b", "github_pat_",
	    "github_pat_", 3.0, SCAN_F_TOKEN },
	SCAN_TOK("gitlab-pat", "glpat-[0-9A-Za-z_-]{20,}", "glpat-", "glpat-"),
	SCAN_TOK("gitlab-deploy-token", "gldt-[0-9A-Za-z_-]{20}", "gldt-",
	    "gldt-"),
	SCAN_TOK("gitlab-runner-token", "glrt-[0-9A-Za-z_-]{20}", "glrt-",
	    "glrt-"),
	SCAN_TOK("gitlab-runner-registration-token",
	    "GR1348941[0-9A-Za-z_-]{20}", "gr1348941", "GR1348941"),
	SCAN_TOK("gitlab-pipeline-trigger-token", "glptt-[0-9a-f]{40}",
	    "glptt-", "glptt-"),
	SCAN_TOK("gitlab-feed-token", "glft-[0-9A-Za-z_-]{20}", "glft-",
	    "glft-"),
	SCAN_TOK("gitlab-incoming-mail-token", "glimt-[0-9A-Za-z_-]{25}",
	    "glimt-", "glimt-"),
	SCAN_TOK("gitlab-agent-token", "glagent-[0-9A-Za-z_-]{50}", "glagent-",
	    "glagent-"),
	SCAN_TOK("gitlab-oauth-secret", "gloas-[0-9A-Za-z_-]{64}", "gloas-",
	    "gloas-"),
	SCAN_TOK("gitlab-scim-token", "glsoat-[0-9A-Za-z_-]{20}", "glsoat-",
	    "glsoat-"),
	SCAN_TOK("gitlab-job-token", "glcbt-[0-9a-fA-F]{1,5}_[0-9A-Za-z_-]{20}",
	    "glcbt-", "glcbt-"),
	SCAN_TOK("gitlab-feature-flag-token", "glffct-[0-9A-Za-z_-]{20}",
	    "glffct-", "glffct-"),
	{ "gitlab-session-cookie", "_gitlab_session=(?<secret>[0-9a-z]{32})",
	    "_gitlab_session", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_TOK("bitbucket-app-password", "ATBB[A-Za-z0-9_=.-]{32}", "atbb",
	    "ATBB"),
	SCAN_NEAR("bitbucket-client-secret", "bitbucket", "bitbucket",
	    "[A-Za-z0-9=_-]{64}"),
	SCAN_TOK("atlassian-api-token", "ATATT3[A-Za-z0-9_=-]{186}", "atatt3",
	    "ATATT3"),
	SCAN_NEAR("atlassian-legacy-token", "(?:atlassian|confluence|jira)",
	    "atlassian|confluence|jira", "[A-Za-z0-9]{24}"),
	SCAN_TOK("circleci-pat", "CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}",
	    "ccipat_", "CCIPAT_"),
	SCAN_NEAR("circleci-token", "circle", "circle", "[a-f0-9]{40}"),
	SCAN_NEAR("travis-ci-token", "travis", "travis", "[A-Za-z0-9]{22}"),
	SCAN_NEAR("drone-ci-token", "drone", "drone", "[A-Za-z0-9]{32}"),
	SCAN_TOK("buildkite-token", "bkua_[a-f0-9]{40}", "bkua_", "bkua_"),
	SCAN_NEAR("jenkins-api-token", "jenkins", "jenkins", "11[a-f0-9]{32}"),
	SCAN_NEAR("codecov-token", "codecov", "codecov", SCAN_UUID),
	SCAN_TOK("sourcegraph-token", "sgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}",
	    "sgp_", "sgp_"),
	SCAN_TOK("harness-token",
	    "pat\\.[A-Za-z0-9_-]{22}\\.[a-f0-9]{24}\\.[A-Za-z0-9]{20}", "pat.",
	    "pat."),
	SCAN_TOK("octopus-deploy-key", "API-[A-Z0-9]{26}", "api-", "API-"),
	/* --- Chat and webhooks ---------------------------------------- */
	SCAN_TOK("slack-app-token",
	    "xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-"
	    "[a-f0-9]{64}",
	    "xapp-", "xapp-"),
	SCAN_TOK("slack-config-token", "xoxe\\.xox[bp]-[0-9]-[A-Z0-9]{150,170}",
	    "xoxe.", "xoxe."),
	/* Slack tokens carry numeric team/user ids between dashes, which
	 * keeps "xoxb-your-token" style placeholders out. */
	{ "slack-token",
	    "\\b(?<secret>xox[abeoprs]-(?:[0-9]+-){1,3}[0-9A-Za-z-]{8,})",
	    "xox", "xoxa|xoxb|xoxe|xoxo|xoxp|xoxr|xoxs", 3.0, SCAN_F_TOKEN },
	{ "slack-webhook",
	    "(?<secret>hooks\\.slack\\.com/(?:services|workflows|triggers)/"
	    "[A-Za-z0-9+/]{43,56})",
	    "hooks.slack.com", NULL, 3.0, SCAN_F_TOKEN },
	{ "discord-webhook",
	    "discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/"
	    "(?<secret>[A-Za-z0-9_-]{60,68})",
	    "discord", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_NEAR("discord-bot-token", "discord", "discord",
	    "[MNO][A-Za-z0-9_-]{23,25}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,"
	    "38}"),
	{ "teams-webhook",
	    "\\.webhook\\.office\\.com/webhookb2/"
	    "(?<secret>[a-f0-9-]{36}@[a-f0-9-]{36}/IncomingWebhook/"
	    "[a-f0-9]{32}/"
	    "[a-f0-9-]{36})",
	    "webhook.office.com", NULL, 3.0, SCAN_F_TOKEN },
	{ "telegram-bot-token",
	    "(?<![0-9])(?<secret>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})"
	    "(?![A-Za-z0-9_-])",
	    ":aa", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_NEAR("mattermost-token", "mattermost", "mattermost",
	    "[a-z0-9]{26}"),
	SCAN_NEAR("twitch-token", "twitch", "twitch", "[a-z0-9]{30}"),
	SCAN_NEAR("gitter-token", "gitter", "gitter", "[a-z0-9_-]{40}"),
	/* --- Payment -------------------------------------------------- */
	/* The seed's sk_live_/sk_test_; test keys get their own id so a
	 * policy could treat them differently later. */
	{ "stripe-live-key",
	    "\\b(?<secret>(?:sk|rk)_(?:live|prod)_[0-9A-Za-z]{10,99})\\b",
	    "sk_live|rk_live|sk_prod|rk_prod",
	    "sk_live_|rk_live_|sk_prod_|rk_prod_", 2.5, SCAN_F_TOKEN },
	{ "stripe-test-key",
	    "\\b(?<secret>(?:sk|rk)_test_[0-9A-Za-z]{10,99})\\b",
	    "sk_test|rk_test", "sk_test_|rk_test_", 2.5, SCAN_F_TOKEN },
	SCAN_TOK("stripe-webhook-secret", "whsec_[A-Za-z0-9]{32,}", "whsec_",
	    "whsec_"),
	SCAN_TOK("braintree-access-token",
	    "access_token\\$(?:production|sandbox)\\$[a-z0-9]{16}\\$[a-f0-9]{"
	    "32}",
	    "access_token$", "access_token$"),
	SCAN_NEAR("paypal-client-secret", "paypal", "paypal",
	    "[A-Za-z0-9_-]{64,80}"),
	SCAN_TOK("square-access-token",
	    "(?:sq0atp-[A-Za-z0-9_-]{22}|EAAA[A-Za-z0-9_-]{60})",
	    "sq0atp-|eaaa", "sq0atp-|EAAA"),
	SCAN_TOK("square-oauth-secret", "sq0csp-[A-Za-z0-9_-]{43}", "sq0csp-",
	    "sq0csp-"),
	SCAN_NEAR("adyen-api-key", "adyen", "adyen",
	    "AQE[A-Za-z0-9+/=_.-]{60,250}"),
	SCAN_TOK("shopify-access-token", "shpat_[a-fA-F0-9]{32}", "shpat_",
	    "shpat_"),
	SCAN_TOK("shopify-custom-access-token", "shpca_[a-fA-F0-9]{32}",
	    "shpca_", "shpca_"),
	SCAN_TOK("shopify-private-app-token", "shppa_[a-fA-F0-9]{32}", "shppa_",
	    "shppa_"),
	SCAN_TOK("shopify-shared-secret", "shpss_[a-fA-F0-9]{32}", "shpss_",
	    "shpss_"),
	SCAN_TOK("flutterwave-secret-key", "FLWSECK(?:_TEST)?-[a-h0-9]{32}-X",
	    "flwseck", "FLWSECK"),
	SCAN_TOK("razorpay-key", "rzp_(?:live|test)_[A-Za-z0-9]{14}", "rzp_",
	    "rzp_"),
	SCAN_NEAR("gocardless-token", "gocardless", "gocardless",
	    "live_[A-Za-z0-9_=-]{40}"),
	SCAN_TOK("plaid-access-token",
	    "access-(?:sandbox|development|production)-" SCAN_UUID,
	    "access-sandbox|access-development|access-production",
	    "access-sandbox-|access-development-|access-production-"),
	SCAN_TOK("duffel-token", "duffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
	    "duffel_", "duffel_"),
	SCAN_TOK("easypost-api-key", "EZ[AT]K[A-Za-z0-9]{54}", "ezak|eztk",
	    "EZAK|EZTK"),
	/* Crypto exchanges: trading code is what this daemon commits. */
	SCAN_NEAR("binance-secret", "binance", "binance", "[A-Za-z0-9]{64}"),
	SCAN_NEAR("kraken-secret", "kraken", "kraken", "[A-Za-z0-9/+=]{80,90}"),
	SCAN_NEAR("coinbase-secret", "coinbase", "coinbase",
	    "[A-Za-z0-9_-]{64}"),
	SCAN_NEAR("bitfinex-secret", "bitfinex", "bitfinex",
	    "[A-Za-z0-9_-]{43}"),
	SCAN_NEAR("kucoin-secret", "kucoin", "kucoin", SCAN_UUID),
	SCAN_NEAR("alpaca-secret", "alpaca", "alpaca", "[A-Za-z0-9]{40}"),
	/* --- Mail and SMS --------------------------------------------- */
	SCAN_TOK("sendgrid-api-key",
	    "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}", "sg.", "SG."),
	SCAN_TOK("mailgun-private-key", "key-[a-f0-9]{32}", "key-", "key-"),
	SCAN_TOK("mailgun-public-key", "pubkey-[a-f0-9]{32}", "pubkey-",
	    "pubkey-"),
	SCAN_TOK("mailchimp-api-key", "[a-f0-9]{32}-us[0-9]{1,2}", "-us", NULL),
	SCAN_NEAR("postmark-token", "postmark", "postmark", SCAN_UUID),
	SCAN_TOK("twilio-api-key", "SK[a-f0-9]{32}", "sk", "SK"),
	SCAN_NEAR("twilio-auth-token", "twilio", "twilio", "[a-f0-9]{32}"),
	SCAN_NEAR("vonage-api-secret", "(?:nexmo|vonage)", "nexmo|vonage",
	    "[A-Za-z0-9]{16}"),
	SCAN_NEAR("messagebird-api-key", "message[_.-]?bird",
	    "messagebird|bird", "[A-Za-z0-9]{25}"),
	SCAN_TOK("brevo-api-key", "xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
	    "xkeysib-", "xkeysib-"),
	SCAN_NEAR("mailjet-secret", "mailjet", "mailjet", "[a-f0-9]{32}"),
	SCAN_NEAR("sparkpost-api-key", "sparkpost", "sparkpost",
	    "[a-f0-9]{40}"),
	SCAN_NEAR("mandrill-api-key", "mandrill", "mandrill",
	    "[A-Za-z0-9_-]{22}"),
	SCAN_TOK("resend-api-key", "re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}", "re_",
	    "re_"),
	SCAN_TOK("mailersend-token", "mlsn\\.[a-f0-9]{64}", "mlsn.", "mlsn."),
	/* --- Package registries --------------------------------------- */
	{ "npm-access-token", "\\b(?<secret>npm_[0-9A-Za-z]{36})\\b", "npm_",
	    "npm_", 3.0, SCAN_F_TOKEN | SCAN_F_CRC32 },
	/* A PyPI token is a macaroon whose base64 starts with the index's
	 * name: "pypi.org" or "test.pypi.org". */
	SCAN_TOK("pypi-upload-token",
	    "pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}",
	    "pypi-ageichlwas5vcmc|pypi-agendgvzdc5wexbplm9yzw",
	    "pypi-AgEIcHlwaS5vcmc|pypi-AgENdGVzdC5weXBpLm9yZw"),
	SCAN_TOK("rubygems-api-key", "rubygems_[a-f0-9]{48}", "rubygems_",
	    "rubygems_"),
	SCAN_TOK("nuget-api-key", "oy2[a-z0-9]{43}", "oy2", "oy2"),
	SCAN_TOK("dockerhub-pat", "dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,32}",
	    "dckr_pat_|dckr_oat_", "dckr_pat_|dckr_oat_"),
	SCAN_TOK("jfrog-api-key", "AKCp[A-Za-z0-9]{69}", "akcp", "AKCp"),
	/* An Artifactory reference token is base64 of "reftkn:...". */
	SCAN_TOK("jfrog-identity-token", "cmVmdGtu[A-Za-z0-9]{56}", "cmvmdgtu",
	    "cmVmdGtu"),
	SCAN_TOK("clojars-api-token", "CLOJARS_[a-z0-9]{60}", "clojars_",
	    "CLOJARS_"),
	{ "sidekiq-secret",
	    "(?i)BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[\"']?[ \\t]*"
	    "(?:=|:)[ \\t]*[\"']?(?<secret>[a-f0-9]{8}:[a-f0-9]{8})",
	    "contribsys", NULL, 2.5, SCAN_F_TOKEN },
	{ "docker-config-auth",
	    "\"auth\"[ \\t]*:[ \\t]*\"(?<secret>[A-Za-z0-9+/]{16,400}={0,2})\"",
	    "\"auth\"", NULL, 3.0, SCAN_F_TOKEN },
	/* --- Observability -------------------------------------------- */
	SCAN_NEAR("datadog-access-token", "(?:datadog|dd_api|dd_app)",
	    "datadog|dd_api|dd_app", "[a-f0-9]{32}(?:[a-f0-9]{8})?"),
	SCAN_TOK("new-relic-user-api-key", "NRAK-[A-Z0-9]{27}", "nrak-",
	    "NRAK-"),
	SCAN_TOK("new-relic-insert-key", "NRII-[A-Za-z0-9_-]{32}", "nrii-",
	    "NRII-"),
	SCAN_TOK("new-relic-browser-api-token", "NRJS-[a-f0-9]{19}", "nrjs-",
	    "NRJS-"),
	SCAN_TOK("new-relic-license-key", "[a-f0-9]{36}NRAL", "nral", NULL),
	{ "sentry-dsn",
	    "https?://(?<secret>[a-f0-9]{32})(?::[a-f0-9]{32})?@"
	    "[a-z0-9.-]{0,80}sentry\\.io/[0-9]+",
	    "sentry.io", NULL, 3.0, SCAN_F_TOKEN },
	SCAN_TOK("sentry-org-token", "sntrys_eyJ[A-Za-z0-9+/=_-]{80,}",
	    "sntrys_", "sntrys_"),
	SCAN_TOK("sentry-user-token", "sntryu_[a-f0-9]{64}", "sntryu_",
	    "sntryu_"),
	SCAN_TOK("grafana-cloud-token", "glc_[A-Za-z0-9+/]{32,400}={0,2}",
	    "glc_", "glc_"),
	SCAN_TOK("grafana-service-account-token",
	    "glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", "glsa_", "glsa_"),
	SCAN_TOK("grafana-api-key", "eyJrIjoi[A-Za-z0-9]{70,400}={0,2}",
	    "eyjrijoi", "eyJrIjoi"),
	SCAN_TOK("dynatrace-token", "dt0c01\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}",
	    "dt0c01.", "dt0c01."),
	SCAN_NEAR("honeycomb-api-key", "honeycomb", "honeycomb",
	    "[A-Za-z0-9]{22}(?:[A-Za-z0-9]{10})?"),
	SCAN_TOK("posthog-key", "ph[cx]_[A-Za-z0-9]{43}", "phc_|phx_",
	    "phc_|phx_"),
	SCAN_NEAR("launchdarkly-key", "launch[_.-]?darkly", "darkly",
	    "(?:api|sdk|mob)-" SCAN_UUID),
	SCAN_NEAR("rollbar-token", "rollbar", "rollbar", "[a-f0-9]{32}"),
	SCAN_NEAR("bugsnag-key", "bugsnag", "bugsnag", "[a-f0-9]{32}"),
	SCAN_NEAR("algolia-api-key", "algolia", "algolia", "[a-f0-9]{32}"),
	SCAN_NEAR("splunk-token", "splunk", "splunk", SCAN_UUID),
	SCAN_TOK("mapbox-secret-token",
	    "sk\\.eyJ[A-Za-z0-9_-]{50,}\\.[A-Za-z0-9_-]{20,}", "sk.eyj",
	    "sk.eyJ"),
	/* --- AI providers --------------------------------------------- */
	SCAN_TOK("openrouter-api-key", "sk-or-v1-[a-f0-9]{64}", "sk-or-v1-",
	    "sk-or-v1-"),
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
	SCAN_TOK("huggingface-token", "hf_[A-Za-z]{34}", "hf_", "hf_"),
	SCAN_TOK("huggingface-org-token", "api_org_[A-Za-z]{34}", "api_org_",
	    "api_org_"),
	SCAN_NEAR("cohere-api-key", "(?:cohere|co_api)", "cohere|co_api",
	    "[A-Za-z0-9]{40}"),
	SCAN_TOK("replicate-api-token", "r8_[A-Za-z0-9]{37}", "r8_", "r8_"),
	SCAN_TOK("groq-api-key", "gsk_[A-Za-z0-9]{52}", "gsk_", "gsk_"),
	SCAN_TOK("perplexity-api-key", "pplx-[A-Za-z0-9]{48}", "pplx-",
	    "pplx-"),
	SCAN_TOK("xai-api-key", "xai-[A-Za-z0-9]{80}", "xai-", "xai-"),
	SCAN_NEAR("mistral-api-key", "mistral", "mistral", "[A-Za-z0-9]{32}"),
	SCAN_NEAR("together-api-key", "together", "together", "[a-f0-9]{64}"),
	SCAN_TOK("langsmith-api-key",
	    "lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}", "lsv2_", "lsv2_"),
	SCAN_TOK("pinecone-api-key", "pcsk_[A-Za-z0-9_]{50,}", "pcsk_",
	    "pcsk_"),
	SCAN_NEAR("elevenlabs-api-key", "(?:elevenlabs|xi[_-]api)",
	    "elevenlabs|xi_api|xi-api", "sk_[a-f0-9]{48}"),
	SCAN_NEAR("deepgram-api-key", "deepgram", "deepgram", "[a-f0-9]{40}"),
	SCAN_NEAR("assemblyai-api-key", "assemblyai", "assemblyai",
	    "[a-f0-9]{32}"),
	SCAN_TOK("fireworks-api-key", "fw_[A-Za-z0-9]{24}", "fw_", "fw_"),
	/* --- Common SaaS ---------------------------------------------- */
	SCAN_NEAR("okta-token", "okta", "okta", "00[A-Za-z0-9_-]{40}"),
	SCAN_TOK("notion-token",
	    "(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}"
	    "[A-Za-z0-9]{35})",
	    "secret_|ntn_", "secret_|ntn_"),
	SCAN_TOK("linear-api-key", "lin_api_[A-Za-z0-9]{40}", "lin_api_",
	    "lin_api_"),
	SCAN_NEAR("linear-client-secret", "linear", "linear", "[a-f0-9]{32}"),
	SCAN_TOK("airtable-pat", "pat[A-Za-z0-9]{14}\\.[a-f0-9]{64}", "pat",
	    "pat"),
	SCAN_NEAR("airtable-api-key", "airtable", "airtable",
	    "key[A-Za-z0-9]{14}"),
	SCAN_NEAR("asana-token", "asana", "asana",
	    "[0-9]/[0-9]{13,17}(?:/[0-9]{13,17})?:[a-f0-9]{32}"),
	SCAN_TOK("figma-token", "figd_[A-Za-z0-9_-]{40}", "figd_", "figd_"),
	SCAN_TOK("dropbox-api-token", "sl\\.(?:u\\.)?[A-Za-z0-9_-]{130,1000}",
	    "sl.", "sl."),
	SCAN_TOK("postman-api-key", "PMAK-[a-f0-9]{24}-[a-f0-9]{34}", "pmak-",
	    "PMAK-"),
	SCAN_TOK("shippo-api-token", "shippo_(?:live|test)_[a-f0-9]{40}",
	    "shippo_", "shippo_"),
	SCAN_TOK("twitter-bearer-token",
	    "AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,120}",
	    "aaaaaaaaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAAAAAAAA"),
	SCAN_NEAR("twitter-api-secret", "(?:twitter|x_api)", "twitter|x_api",
	    "[A-Za-z0-9]{50}"),
	SCAN_TOK("facebook-access-token", "EAA[MC][A-Za-z0-9]{100,}", "eaa",
	    "EAA"),
	SCAN_NEAR("facebook-app-secret", "(?:facebook|fb_app)",
	    "facebook|fb_app", "[a-f0-9]{32}"),
	SCAN_NEAR("linkedin-client-secret", "linkedin", "linkedin",
	    "[A-Za-z0-9]{16}"),
	SCAN_NEAR("zendesk-token", "zendesk", "zendesk", "[A-Za-z0-9]{40}"),
	SCAN_TOK("hubspot-pat", "pat-(?:na|eu)1-" SCAN_UUID,
	    "pat-na1-|pat-eu1-", "pat-"),
	SCAN_NEAR("intercom-token", "intercom", "intercom",
	    "[A-Za-z0-9+/=_-]{60}"),
	SCAN_TOK("typeform-token", "tfp_[A-Za-z0-9_.=-]{59}", "tfp_", "tfp_"),
	SCAN_TOK("contentful-token", "CFPAT-[A-Za-z0-9_-]{43}", "cfpat-",
	    "CFPAT-"),
	SCAN_TOK("frameio-token", "fio-u-[A-Za-z0-9_=-]{64}", "fio-u-",
	    "fio-u-"),
	SCAN_TOK("prefect-api-key", "pnu_[A-Za-z0-9]{36}", "pnu_", "pnu_"),
	SCAN_TOK("readme-api-key", "rdme_[a-z0-9]{70}", "rdme_", "rdme_"),
	SCAN_TOK("scalingo-token", "tk-us-[A-Za-z0-9_-]{48}", "tk-us-",
	    "tk-us-"),
	SCAN_TOK("defined-networking-key",
	    "dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}", "dnkey-", "dnkey-"),
	SCAN_TOK("adobe-client-secret", "p8e-[A-Za-z0-9]{32}", "p8e-", "p8e-"),
	SCAN_TOK("clickup-token", "pk_[0-9]{6,8}_[A-Z0-9]{32}", "pk_", "pk_"),
	SCAN_NEAR("trello-token", "trello", "trello", "[A-Za-z0-9]{32}"),
	SCAN_NEAR("etsy-api-key", "etsy", "etsy", "[a-z0-9]{24}"),
	/* --- Private keys --------------------------------------------- */
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
	/* PuTTY's .ppk: the secret is the first line after Private-Lines. */
	{ "putty-private-key",
	    "PuTTY-User-Key-File-[23]:[^\\n]{0,200}\\n(?:[^\\n]{0,2000}\\n)"
	    "{0,40}?Private-Lines:[ \\t]*[0-9]{1,4}\\r?\\n"
	    "(?<secret>[A-Za-z0-9+/=]{40,})",
	    "putty-user-key-file", NULL, 3.0, SCAN_F_TOKEN },
	/* Header and payload are base64url JSON objects ("eyJ" is '{"'). */
	{ "jwt",
	    "\\b(?<secret>eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\."
	    "[A-Za-z0-9_-]{16,})",
	    "eyj", "eyJ", 3.0, SCAN_F_TOKEN },
	/* --- Connection strings --------------------------------------- */
	/* A database or broker URL with a password: its own id, before the
	 * generic URL rule (same filters). */
	{ "database-url-credentials",
	    "(?i)\\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|"
	    "rediss?|amqps?|mssql|sqlserver|clickhouse|cockroachdb|"
	    "oracle|db2|cassandra|neo4j(?:\\+s)?|couchdb)://"
	    "(?<user>[^\\s/:@'\"`<>]{0,64}):"
	    "(?<secret>[^\\s/@'\"`]{3,128})@[^\\s/@'\"`]",
	    "postgres|mysql|mariadb|mongodb|redis|amqp|mssql|sqlserver|"
	    "clickhouse|cockroachdb|oracle|db2|cassandra|neo4j|couchdb",
	    NULL, 0.0, SCAN_F_URL },
	{ "jdbc-password",
	    "(?i)jdbc:[a-z0-9]{2,20}:[^\\s\"'`]{0,300}?[;?&]password="
	    "(?<secret>[^;&\\s\"'`]{6,128})",
	    "jdbc:", NULL, 0.0, SCAN_F_URL },
	{ "connection-string-password",
	    "(?i)(?:server|data source|host)=[^;\\n]{1,200};[^\\n\"]{0,300}?"
	    "\\b(?:password|pwd)=(?<secret>[^;\"'\\s]{6,128})",
	    "password=|pwd=", NULL, 0.0, SCAN_F_URL },
	{ "curl-auth-user",
	    "\\bcurl[^\\n]{0,300}?[ \\t](?:-u|--user)[ \\t]*[\"']?"
	    "(?<user>[^\\s:\"']{1,64}):(?<secret>[^\\s\"'@]{6,128})",
	    "curl", NULL, 0.0, SCAN_F_URL },
	{ "netrc-password",
	    "\\bmachine[ \\t]+[^\\s]{1,200}[ \\t\\n]+login[ \\t]+(?<user>[^\\s]"
	    "{1,64})[ \\t\\n]+password[ \\t]+(?<secret>[^\\s]{6,128})",
	    "machine", NULL, 0.0, SCAN_F_URL },
	{ "basic-auth-header",
	    "(?i)\\bauthorization[\"']?[ \\t]*[:=][ \\t]*[\"']?basic[ \\t]+"
	    "(?<secret>[A-Za-z0-9+/]{16,400}={0,2})",
	    "basic", NULL, 3.0, SCAN_F_TOKEN },
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
