/*
 * test_aws_profile.c - the reader of ~/.aws/config and ~/.aws/credentials
 * (publishers/aws_profile.c): configparser.RawConfigParser's rules (what
 * botocore parses with), the profile maps of botocore's configloader and
 * session.full_config, the file ceiling, and the shlex.split used for
 * credential_process. Expected values were checked against Python's
 * configparser and shlex on the same text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "publishers/aws_profile.h"

static struct aws_ini *
parse_ok(const char *text)
{
	struct aws_ini *ini = NULL;
	struct error err = { 0 };

	assert_int_equal(aws_ini_parse(&ini, text, strlen(text), "t", &err), 0);
	return ini;
}

static void
parse_fails(const char *text, const char *why)
{
	struct aws_ini *ini = NULL;
	struct error err = { 0 };

	assert_int_equal(aws_ini_parse(&ini, text, strlen(text), "t", &err),
	    ERR_INVALID);
	assert_null(ini);
	assert_string_equal(err.code, "CONFIG");
	assert_non_null(strstr(err.msg, why));
}

static void
test_configparser_rules(void **state)
{
	struct aws_ini *ini;

	(void)state;
	ini = parse_ok("# comment\n"
	               "; another\n"
	               "[default]\n"
	               "AWS_Access_Key_ID = AKID1  \n"
	               "aws_secret_access_key=  s e c  \n"
	               "region: eu-west-1\n"
	               "note = a # not a comment\n"
	               "empty =\n"
	               "s3 =\n"
	               "    addressing_style = path\n"
	               "\n"
	               "    signature_version = s3v4\n"
	               "[odd name] trailing\n"
	               "k=v=w\n"
	               "  [x]\n"
	               "[DEFAULT]\n"
	               "fallback = yes\n");
	assert_int_equal(aws_ini_count(ini), 2);
	assert_string_equal(aws_ini_section(ini, 1), "odd name");
	/* keys lower-cased, values trimmed, first '=' or ':' splits */
	assert_string_equal(aws_ini_get(ini, "default", "aws_access_key_id"),
	    "AKID1");
	assert_string_equal(aws_ini_get(ini, "default",
	                        "aws_secret_access_key"),
	    "s e c");
	assert_string_equal(aws_ini_get(ini, "default", "region"), "eu-west-1");
	assert_string_equal(aws_ini_get(ini, "default", "note"),
	    "a # not a comment");
	assert_string_equal(aws_ini_get(ini, "default", "empty"), "");
	/* continuation lines, an inner blank line kept */
	assert_string_equal(aws_ini_get(ini, "default", "s3"),
	    "\naddressing_style = path\n\nsignature_version = s3v4");
	/* up to the last ']'; an indented line under an option continues
	 * it, even one that looks like a header */
	assert_string_equal(aws_ini_get(ini, "odd name", "k"), "v=w\n[x]");
	/* [DEFAULT] is not a section; its keys show in every section */
	assert_string_equal(aws_ini_get(ini, "odd name", "fallback"), "yes");
	assert_null(aws_ini_get(ini, "default", "AWS_Access_Key_ID"));
	assert_null(aws_ini_get(ini, "nope", "k"));
	aws_ini_free(ini);
}

static void
test_configparser_errors(void **state)
{
	(void)state;
	parse_fails("key = v\n[a]\n", "line 1: an option before");
	parse_fails("[a]\nx = 1\n[a]\n", "line 3: section already seen");
	parse_fails("[a]\nx = 1\nX = 2\n", "line 3: option already set");
	parse_fails("[a]\njust words\n", "line 2: not a section header");
	parse_fails("[a]\n= v\n", "an option without a name");
	parse_fails("[]\n", "line 1: not a section header");
	{
		struct aws_ini *ini = NULL;
		struct error err = { 0 };

		assert_int_equal(aws_ini_parse(&ini, "[a]\nk=\0v\n", 8, "t",
		                     &err),
		    ERR_INVALID);
	}
}

static void
test_file_ceiling(void **state)
{
	char path[] = "/tmp/test_aws_profile_XXXXXX";
	struct aws_ini *ini = NULL;
	struct error err = { 0 };
	FILE *f;
	int fd;
	size_t i;

	(void)state;
	assert_int_equal(aws_ini_load(&ini, "/nonexistent/aws/config", &err),
	    ERR_NOTFOUND);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[default]\n", f);
	for (i = 0; i < AWS_PROFILE_FILE_MAX / 16 + 1; i++)
		fprintf(f, "k%012zu=v\n", i);
	fclose(f);
	assert_int_equal(aws_ini_load(&ini, path, &err), ERR_INVALID);
	assert_null(ini);
	unlink(path);
}

static void
test_profile_maps(void **state)
{
	static const char config[] = "[default]\n"
	                             "region = us-east-2\n"
	                             "[profile dev]\n"
	                             "region = eu-west-1\n"
	                             "role_arn = arn:aws:iam::1:role/r\n"
	                             "[profile   spaced]\n"
	                             "region = ap-south-1\n"
	                             "[profile a b]\n"
	                             "region = nope\n"
	                             "[dev2]\n"
	                             "region = nope\n";
	static const char creds[] = "[dev]\n"
	                            "aws_access_key_id = AKIDDEV\n"
	                            "region = sa-east-1\n"
	                            "[profile dev2]\n"
	                            "aws_access_key_id = nope\n";
	struct aws_profiles p = { 0 };
	struct error err = { 0 };

	(void)state;
	p.name = strdup("dev");
	assert_int_equal(aws_ini_parse(&p.config, config, strlen(config), "c",
	                     &err),
	    0);
	assert_int_equal(aws_ini_parse(&p.creds, creds, strlen(creds), "k",
	                     &err),
	    0);
	assert_string_equal(aws_profile_config_get(&p, "default", "region"),
	    "us-east-2");
	assert_string_equal(aws_profile_config_get(&p, "dev", "region"),
	    "eu-west-1");
	assert_string_equal(aws_profile_config_get(&p, "spaced", "region"),
	    "ap-south-1");
	/* "[profile a b]" is three words: no profile; "[dev2]" in the
	 * config file is not a profile either. */
	assert_null(aws_profile_config_get(&p, "a", "region"));
	assert_null(aws_profile_config_get(&p, "dev2", "region"));
	/* In the credentials file the section name is the profile. */
	assert_string_equal(aws_profile_creds_get(&p, "dev",
	                        "aws_access_key_id"),
	    "AKIDDEV");
	assert_null(aws_profile_creds_get(&p, "dev2", "aws_access_key_id"));
	assert_true(aws_profile_exists(&p, "profile dev2"));
	/* full_config: the credentials file's value wins */
	assert_string_equal(aws_profile_get(&p, "dev", "region"), "sa-east-1");
	assert_string_equal(aws_profile_get(&p, "dev", "role_arn"),
	    "arn:aws:iam::1:role/r");
	assert_true(aws_profile_exists(&p, "dev"));
	assert_true(aws_profile_exists(&p, "spaced"));
	assert_false(aws_profile_exists(&p, "a"));
	aws_profiles_dispose(&p);
}

static void
test_shell_split(void **state)
{
	char **argv = NULL;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(aws_shell_split(&argv,
	                     "  /bin/helper --x 'a b' \"c \\\"d\\\" \\e\" "
	                     "f\\ g '' \"$HOME\"",
	                     &err),
	    0);
	assert_string_equal(argv[0], "/bin/helper");
	assert_string_equal(argv[1], "--x");
	assert_string_equal(argv[2], "a b");
	assert_string_equal(argv[3], "c \"d\" \\e");
	assert_string_equal(argv[4], "f g");
	assert_string_equal(argv[5], "");
	assert_string_equal(argv[6], "$HOME"); /* no shell, no expansion */
	assert_null(argv[7]);
	aws_argv_free(argv);
	assert_int_equal(aws_shell_split(&argv, "a 'b", &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "no closing quotation"));
	assert_int_equal(aws_shell_split(&argv, "a b\\", &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "no escaped character"));
	assert_int_equal(aws_shell_split(&argv, "   ", &err), ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configparser_rules),
		cmocka_unit_test(test_configparser_errors),
		cmocka_unit_test(test_file_ceiling),
		cmocka_unit_test(test_profile_maps),
		cmocka_unit_test(test_shell_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
