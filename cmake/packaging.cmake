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

# Debian's documentation files: the machine-readable copyright and the
# changelog, gzipped -9n (reproducible, as dh_compress does). The package
# is native (the version has no Debian revision: the upstream tree builds
# it), so the changelog is changelog.gz. Its newest entry must be this
# version: bump deploy/debian/changelog with project(VERSION).
set(ARTIFACTD_DEB_SRC ${CMAKE_SOURCE_DIR}/deploy/debian)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${ARTIFACTD_DEB_SRC}/changelog ${ARTIFACTD_DEB_SRC}/copyright
  ${ARTIFACTD_DEB_SRC}/postinst.in ${ARTIFACTD_DEB_SRC}/prerm
  ${ARTIFACTD_DEB_SRC}/postrm ${ARTIFACTD_DEB_SRC}/lintian-overrides)
file(STRINGS ${ARTIFACTD_DEB_SRC}/changelog ARTIFACTD_CHANGELOG_TOP
  LIMIT_COUNT 1)
if(NOT ARTIFACTD_CHANGELOG_TOP MATCHES "^artifactd \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "deploy/debian/changelog starts with "
    "'${ARTIFACTD_CHANGELOG_TOP}', not version ${PROJECT_VERSION}")
endif()
set(ARTIFACTD_DEB_DIR ${CMAKE_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${ARTIFACTD_DEB_DIR})
execute_process(COMMAND gzip -9nc ${ARTIFACTD_DEB_SRC}/changelog
  OUTPUT_FILE ${ARTIFACTD_DEB_DIR}/changelog.gz
  RESULT_VARIABLE ARTIFACTD_GZIP_RC)
if(NOT ARTIFACTD_GZIP_RC EQUAL 0)
  message(FATAL_ERROR "gzip of deploy/debian/changelog failed")
endif()
install(FILES ${ARTIFACTD_DEB_SRC}/copyright ${ARTIFACTD_DEB_DIR}/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The one lintian override, with its reason in the file.
install(FILES ${ARTIFACTD_DEB_SRC}/lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
  RENAME artifactd)

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
# names as Debian 12 ships them. adduser is for the postinst. zlib1g:
# the group commit's pack writer (store/odb_pack.c) deflates objects itself.
set(ARTIFACTD_DEB_RUNTIME
  libarchive13 libcjson1 libcurl4 libevent-2.1-7 libevent-openssl-2.1-7
  libevent-pthreads-2.1-7
  libgit2-1.5 libhiredis0.14 libhttp-parser2.9 libpcre2-8-0 libssl3
  libyaml-0-2 zlib1g)
list(JOIN ARTIFACTD_DEB_RUNTIME ", " ARTIFACTD_DEB_DEPENDS)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, ${ARTIFACTD_DEB_DEPENDS}, adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")

# Maintainer scripts (deploy/debian/: postinst creates the user and
# restarts on upgrade, prerm stops on remove, postrm reloads systemd) and
# the conffile list, with this prefix's paths.
set(ARTIFACTD_ENV_FILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/artifactd/artifactd.env)
file(WRITE ${ARTIFACTD_DEB_DIR}/conffiles "${ARTIFACTD_ENV_FILE}\n")
configure_file(${ARTIFACTD_DEB_SRC}/postinst.in ${ARTIFACTD_DEB_DIR}/postinst
  @ONLY)
foreach(s prerm postrm)
  configure_file(${ARTIFACTD_DEB_SRC}/${s} ${ARTIFACTD_DEB_DIR}/${s} COPYONLY)
endforeach()
file(CHMOD ${ARTIFACTD_DEB_DIR}/postinst ${ARTIFACTD_DEB_DIR}/prerm
  ${ARTIFACTD_DEB_DIR}/postrm
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
  WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${ARTIFACTD_DEB_DIR}/conffiles ${ARTIFACTD_DEB_DIR}/postinst
  ${ARTIFACTD_DEB_DIR}/prerm ${ARTIFACTD_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
