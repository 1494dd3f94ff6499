/* SPDX-License-Identifier: MIT */
/* testhook: named points in the pipeline where the robustness tests
 * (scripts/check-robust) can kill or pause a run, to prove that a run
 * killed anywhere leaves the snapshot and the outputs whole, and where the
 * unit tests make a call fail that cannot be made to fail otherwise. Inert unless
 * the environment variable LMSRECON_TEST_AT is set. */
#ifndef LMSRECON_TESTHOOK_H
#define LMSRECON_TESTHOOK_H

/* Passes point `name`. With LMSRECON_TEST_AT="NAME:N:kill" the N-th pass of
 * NAME kills the process with SIGKILL; with "NAME:N:pause" it sleeps two
 * seconds (so that a second process can meet the first one mid-run). */
void testhook(const char *name);

/* Passes point `name` where something can fail: 1 when
 * LMSRECON_TEST_AT="NAME:N:fail" and this is the N-th pass of NAME (the
 * caller then acts as if it had failed), else 0. */
int testhook_fails(const char *name);

#endif
