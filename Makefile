# safe_column: PGXS build of the extension (make, make install, make installcheck).
# The pure C++ core and its unit tests also build with CMake (CMakeLists.txt); test/run_all.sh runs
# every test layer.

MODULE_big = safe_column
CORE_OBJS = src/core/sql_text.o src/core/lock_retry.o src/core/lock_report.o src/core/add_column_plan.o \
	src/core/batch_sizer.o src/core/rate_meter.o src/core/job_phase.o src/core/throttle.o \
	src/core/ddl_guard.o src/core/index_guard.o \
	src/core/signal_cache.o src/core/checkpoint_pace.o src/core/backfill_forecast.o
PG_OBJS = src/pg/module.o src/pg/guard.o src/pg/lock.o src/pg/jobs.o src/pg/add_column.o \
	src/pg/shmem.o src/pg/launcher.o src/pg/job_runner.o src/pg/job_live.o src/pg/worker_session.o src/pg/job_row.o \
	src/pg/batch.o src/pg/forecast.o src/pg/ddl_step.o src/pg/control.o src/pg/subxact.o src/pg/signals.o \
	src/pg/overrides.o src/pg/hook.o src/pg/hook_facts.o src/pg/command_facts.o \
	src/pg/related_locks.o src/pg/db_lifecycle.o src/pg/plan_function.o src/pg/publications.o \
	src/pg/index_hook.o src/pg/kept_plans.o src/pg/staged_constraints.o src/pg/index_build.o src/pg/staged_index.o src/pg/restored_jobs.o \
	src/pg/staged_serial.o
OBJS = $(CORE_OBJS) $(PG_OBJS)

EXTENSION = safe_column
DATA = safe_column--0.1.sql safe_column--0.2.sql safe_column--0.1--0.2.sql safe_column--0.2--0.3.sql safe_column--0.3--0.4.sql
PGFILEDESC = "safe_column - add columns to big, busy tables without stalling the application"

PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = -std=c++17 -Wno-register -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
# (-MMD -MP: the header dependencies, used below.)
PG_CXXFLAGS += -MMD -MP
SHLIB_LINK = -lstdc++

# pg_regress and pg_isolation_regress each start a throw-away instance with the library preloaded,
# so `make installcheck` needs no running server (it must run as a non-root user: initdb refuses root).
REGRESS = setup guard add_column add_column_errors lock_budget backfill hook index_guard collate inline_constraints serial unique identity staged_index
REGRESS_OPTS = --encoding=UTF8 --no-locale --temp-instance=tmp_check_regress --temp-config=$(srcdir)/test/regress.conf
ISOLATION = lock_queue staged_index
ISOLATION_OPTS = --encoding=UTF8 --no-locale --inputdir=$(srcdir)/test/isolation --temp-instance=tmp_check_iso \
	--temp-config=$(srcdir)/test/regress.conf

EXTRA_CLEAN = safe_column-*.zip tmp_check_regress tmp_check_iso output_iso results regression.diffs regression.out \
	src/core/*.bc src/pg/*.bc src/core/*.d src/pg/*.d

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL 17 and later: the MAINTAIN privilege.
ifeq ($(shell test $(MAJORVERSION) -ge 17 && echo yes),yes)
REGRESS += pg17_maintain
endif
# PostgreSQL 18 and later: NOT NULL NOT VALID and virtual generated columns (MAJORVERSION: PGXS's).
ifeq ($(shell test $(MAJORVERSION) -ge 18 && echo yes),yes)
REGRESS += pg18_not_null
endif

# Every object depends on the headers it includes (gcc's -MMD files, *.d): a changed struct in a header
# rebuilds every file that sees it. Without this, an object built against the old layout of a struct
# shared between files (src/pg/job_live.hpp's Live, for one) links silently and corrupts memory.
-include $(OBJS:.o=.d)
# The LLVM bitcode of each file (for JIT inlining) follows its object, and so its headers too.
$(OBJS:.o=.bc): %.bc: %.o

# Debian builds LLVM bitcode with clang, which ignores PG_CXXFLAGS: give it the same language level.
BITCODE_CXXFLAGS += -std=c++17 -Wno-register

# The archive PGXN takes: the committed tree (git archive), named after META.json's version.
DISTVERSION = $(shell sed -n 's/^   "version": "\(.*\)",$$/\1/p' $(srcdir)/META.json)
.PHONY: dist
dist:
	git -C $(srcdir) archive --format zip --prefix=safe_column-$(DISTVERSION)/ -o $(CURDIR)/safe_column-$(DISTVERSION).zip HEAD

.PHONY: unit
unit:
	cmake -S $(srcdir) -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j2
	cd build && ctest --output-on-failure
