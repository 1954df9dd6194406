# packaging.cmake - install rules and the Debian package.
#
# `cmake --install` puts the binary in bin/, the man page artifactd(8)
# (generated at build time from the binary's own --help texts by
# cmake/gen-man.sh) in man8/, the systemd unit in lib/systemd/system/ and
# the environment file in etc/artifactd/. The unit names the binary and the
# environment file by absolute path, so it is rewritten here for the
# install prefix. `cpack -G DEB` builds artifactd_<version>_<arch>.deb
# with the same layout under the same prefix (configure with
# -DCMAKE_INSTALL_PREFIX=/usr for the usual Debian paths); its Depends are
# the Debian runtime packages of the libraries the binary links, which
# tests/integration/test_deploy_deb checks against ldd.
include(GNUInstallDirs)

install(TARGETS artifactd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man page. Running the binary at build time needs a native build.
if(NOT CMAKE_CROSSCOMPILING)
  set(ARTIFACTD_MAN ${CMAKE_BINARY_DIR}/man/artifactd.8.gz)
  add_custom_command(OUTPUT ${ARTIFACTD_MAN}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh ${CMAKE_SOURCE_DIR}/cmake/gen-man.sh $<TARGET_FILE:artifactd>
      ${ARTIFACTD_MAN} ${PROJECT_VERSION}
    DEPENDS artifactd ${CMAKE_SOURCE_DIR}/cmake/gen-man.sh
    COMMENT "Generating artifactd.8 from --help"
    VERBATIM)
  add_custom_target(man ALL DEPENDS ${ARTIFACTD_MAN})
  install(FILES ${ARTIFACTD_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endif()

# systemd unit and its environment file, with the paths of this prefix.
set(ARTIFACTD_UNIT_SRC ${CMAKE_SOURCE_DIR}/deploy/systemd/artifactd.service)
set(ARTIFACTD_ENV_SRC ${CMAKE_SOURCE_DIR}/deploy/systemd/artifactd.env)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${ARTIFACTD_UNIT_SRC} ${ARTIFACTD_ENV_SRC})
file(READ ${ARTIFACTD_UNIT_SRC} ARTIFACTD_UNIT)
string(REPLACE "/usr/bin/artifactd" "${CMAKE_INSTALL_FULL_BINDIR}/artifactd"
  ARTIFACTD_UNIT "${ARTIFACTD_UNIT}")
string(REPLACE "/etc/artifactd/" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/artifactd/"
  ARTIFACTD_UNIT "${ARTIFACTD_UNIT}")
file(WRITE ${CMAKE_BINARY_DIR}/systemd/artifactd.service "${ARTIFACTD_UNIT}")
install(FILES ${CMAKE_BINARY_DIR}/systemd/artifactd.service
  DESTINATION lib/systemd/system)
# The environment file may hold secrets: not world-readable. The package's
# postinst gives it to the service group. GNUInstallDirs maps the prefix
# /usr to /etc (outside the prefix): then the path must stay absolute.
if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "/etc")
  set(ARTIFACTD_ENV_DEST /etc/artifactd)
else()
  set(ARTIFACTD_ENV_DEST ${CMAKE_INSTALL_SYSCONFDIR}/artifactd)
endif()
install(FILES ${ARTIFACTD_ENV_SRC}
  DESTINATION ${ARTIFACTD_ENV_DEST}
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${CMAKE_SOURCE_DIR}/docs/deploy.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

# Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME artifactd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "artifactd maintainers <artifactd@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "commit and publish artifacts from Redis bus events")
set(CPACK_PACKAGE_DESCRIPTION
  "artifactd listens on Redis Streams for TEST_PASSED and release-tag events,
commits the tested artifacts into git with libgit2, publishes release files
to package repositories with libcurl, and answers on the bus.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# One package per library the binary links (readelf NEEDED, libc6 aside);
# names as Debian 12 ships them. adduser is for the postinst.
set(ARTIFACTD_DEB_RUNTIME
  libarchive13 libcjson1 libcurl4 libevent-2.1-7 libevent-pthreads-2.1-7
  libgit2-1.5 libhiredis0.14 libpcre2-8-0 libssl3 libyaml-0-2)
list(JOIN ARTIFACTD_DEB_RUNTIME ", " ARTIFACTD_DEB_DEPENDS)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, ${ARTIFACTD_DEB_DEPENDS}, adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")

# Maintainer scripts and the conffile list, with this prefix's paths.
set(ARTIFACTD_DEB_DIR ${CMAKE_BINARY_DIR}/debian)
file(WRITE ${ARTIFACTD_DEB_DIR}/conffiles
  "${CMAKE_INSTALL_FULL_SYSCONFDIR}/artifactd/artifactd.env\n")
file(WRITE ${ARTIFACTD_DEB_DIR}/postinst "#!/bin/sh
# Create the service user and give it the environment file; the repository
# directory is created by systemd (StateDirectory=).
set -e
if [ \"$1\" = configure ]; then
	if ! getent passwd artifactd >/dev/null; then
		adduser --system --group --home /var/lib/artifactd \\
		    --no-create-home --shell /usr/sbin/nologin artifactd
	fi
	env=${CMAKE_INSTALL_FULL_SYSCONFDIR}/artifactd/artifactd.env
	if [ -f \"$env\" ]; then
		chgrp artifactd \"$env\"
		chmod 0640 \"$env\"
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
fi
exit 0
")
file(WRITE ${ARTIFACTD_DEB_DIR}/postrm "#!/bin/sh
# The user and /var/lib/artifactd (the artifact repository) are kept on
# purge: they hold data that is not ours to delete.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
")
file(CHMOD ${ARTIFACTD_DEB_DIR}/postinst ${ARTIFACTD_DEB_DIR}/postrm
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
  WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${ARTIFACTD_DEB_DIR}/conffiles ${ARTIFACTD_DEB_DIR}/postinst
  ${ARTIFACTD_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
