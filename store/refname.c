/*
 * refname.c - is a name one git will accept as a ref, before anything is
 * written under it?
 *
 * Ids from events become ref names (refs/heads/<prefix>/<wf>/<task>,
 * refs/tags/corr_<id>, refs/tags/prompt_<hash>, the branch of a rollback).
 * A name git refuses fails only at the ref write, after the commit object
 * exists, and looks like a transient libgit2 error: it was retried and
 * answered ARTIFACT_COMMIT_FAILED with the artifact already in git. So
 * the handler asks here first and refuses the event at once.
 */
#include <git2.h>
#include <string.h>

#include "store/store.h"

bool
store_ref_name_ok(const char *refname)
{
	const char *p, *slash;
	int valid = 0;

	if (refname == NULL || strlen(refname) > STORE_REF_NAME_MAX)
		return false;
	/* Loose refs are files named by each component, and libgit2 writes
	 * "<component>.lock" first: NAME_MAX (255) minus ".lock". */
	for (p = refname; *p != '\0'; p = slash + 1) {
		slash = strchr(p, '/');
		if ((slash != NULL ? (size_t)(slash - p) : strlen(p)) >
		    STORE_REF_COMPONENT_MAX)
			return false;
		if (slash == NULL)
			break;
	}
	/* libgit2's own check (git check-ref-format rules). It allocates
	 * through libgit2's allocator, so libgit2 must be initialised; the
	 * pair only counts up and down while a store is open. */
	git_libgit2_init();
	if (git_reference_name_is_valid(&valid, refname) < 0)
		valid = 0;
	git_libgit2_shutdown();
	return valid != 0;
}
