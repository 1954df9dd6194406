/*
 * path_int.h - the pieces of path.c its unit test drives directly.
 */
#ifndef COMMON_PATH_INT_H
#define COMMON_PATH_INT_H

/*
 * The walk used where the kernel has no openat2 (before Linux 5.6): one
 * component at a time with openat(O_NOFOLLOW), so every symlink is
 * refused (PATH_REJECTED), and so is any ".." component. Opens the final
 * component O_RDONLY|O_NONBLOCK. Returns 0 with *fd set, or the codes of
 * path_open_beneath.
 */
int path_open_walk(int *fd, int rootfd, const char *rel, const char *what,
    struct error *err);

#endif
