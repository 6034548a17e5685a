/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Login detection and details: where an audit session began, and its service, peer, terminal and trust. */
#include <stdio.h>
#include <string.h>

#include "daemon-internal.h"
#include "login.h"

/* Sets *field to value (copied) unless it is set already. */
static void set_once(char **field, const char *value) {
        if (!*field && value && *value)
                *field = strdup(value);
}

static void copy_field(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ?: "");
}

/* The device in stat's tty_nr as a name: pts/N, ttyN, ttySN, or MAJOR:MINOR. */
static void tty_name(uint32_t tty_nr, char *buf, size_t size) {
        unsigned major = (tty_nr >> 8) & 0xfff, minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);

        if (major >= 136 && major <= 143)
                snprintf(buf, size, "pts/%u", minor + (major - 136) * 256);
        else if (major == 4 && minor < 64)
                snprintf(buf, size, "tty%u", minor);
        else if (major == 4)
                snprintf(buf, size, "ttyS%u", minor - 64);
        else
                snprintf(buf, size, "%u:%u", major, minor);
}

/* logind session and unit from a cgroup path like /user.slice/user-0.slice/session-3.scope. */
static void cgroup_session(const char *path, char *session, size_t ssize, char *unit, size_t usize) {
        const char *last = strrchr(path, '/');

        last = last ? last + 1 : path;
        session[0] = unit[0] = 0;
        if (!*last || !(strstr(last, ".scope") || strstr(last, ".service")))
                return;
        snprintf(unit, usize, "%s", last);
        if (strncmp(last, "session-", 8) == 0) {
                size_t n = strcspn(last + 8, ".");

                snprintf(session, ssize, "%.*s", (int) MIN(n, ssize - 1), last + 8);
        }
}

/* Applies login details (begin and/or details) to the tracker: shared by live reads and replay. */
int apply_login_record(Daemon *d, const RecordLogin *rl) {
        Instance *i = tracker_get(d->tracker, rl->pid);
        Login *l;

        if (!i)
                return 0;
        l = rl->begin ? tracker_login_begin(d->tracker, i) : tracker_login_for_session(d->tracker, rl->audit_session);
        if (!l)
                return 0;
        set_once(&l->service, rl->service);
        set_once(&l->remote_address, rl->remote_address);
        if (l->remote_port == 0)
                l->remote_port = rl->remote_port;
        set_once(&l->tty, rl->tty);
        set_once(&l->logind_session, rl->logind_session);
        set_once(&l->unit, rl->unit);
        if (rl->trust != RECORD_LOGIN_TRUST_UNKNOWN && !l->trust_checked) {
                l->self_declared = rl->trust == RECORD_LOGIN_SELF_DECLARED;
                l->trust_checked = true;
        }
        l->detail_tries++;
        tracker_login_changed(d->tracker, l);
        return 0;
}

static bool child_carries_session(const Instance *c, uint32_t audit_session, void *userdata) {
        Daemon *d = userdata;
        ProcInfo pi = {};
        bool yes;

        if (procfs_read(d->config.proc, c->pid, PROCFS_STAT | PROCFS_LOGIN, &pi) < 0)
                return false;
        yes = tracker_same_start(c, pi.start_ticks) && pi.sessionid == audit_session;
        proc_info_done(&pi);
        return yes;
}

/* The login process is gone (or its pid reused): what the kernel said of its image when it exec'd (the
 * eBPF source) and the credentials the tracker saw decide; with neither known, it stays a claim. */
static RecordLoginTrust login_trust_gone(const Instance *at) {
        bool yes = at->image_owner_known && at->image_root_owned && tracker_login_privileged_gone(at);

        log_debug("Login at pid %d: gone before /proc was read; %s.", at->pid,
                  yes ? "root all along, running a root-owned executable (eBPF record): trusted"
                      : !at->image_owner_known ? "its executable is not known: self-declared" : "self-declared");
        return yes ? RECORD_LOGIN_TRUSTED : RECORD_LOGIN_SELF_DECLARED;
}

/* Whether the login that began at instance at is to be trusted: the process that began it was privileged
 * then (tracker_login_privileged()) and runs a root-owned executable. Anything else it says about itself
 * (its name, its environment's SSH_CONNECTION, the loginuid it wrote) is a claim. */
static RecordLoginTrust login_trust(Daemon *d, const Instance *at) {
        ProcInfo now = {};
        int exe, r;

        /* The kernel's word on the file it ran (eBPF source) where there is one; else the file /proc/PID/exe
         * names now. */
        exe = at->image_owner_known ? at->image_root_owned : procfs_exe_root_owned(d->config.proc, at->pid);
        /* Read after the executable: the same start time says it is still the same process. */
        r = procfs_read(d->config.proc, at->pid, PROCFS_STAT | PROCFS_STATUS, &now);
        if (r < 0 || !tracker_same_start(at, now.start_ticks)) {
                proc_info_done(&now);
                return login_trust_gone(at);
        }
        r = tracker_login_privileged(at, &now) || tracker_login_witnessed(at, child_carries_session, d);
        log_debug("Login at pid %d: %s, %s (uid %u, euid %u, CapEff %" PRIx64 ").", at->pid,
                  r ? "privileged when it began" : "not shown privileged when it began",
                  exe > 0 ? "root-owned executable" : "executable not root-owned (or not found at its path)",
                  now.ruid, now.euid, now.cap_eff);
        proc_info_done(&now);
        return r && exe > 0 ? RECORD_LOGIN_TRUSTED : RECORD_LOGIN_SELF_DECLARED;
}

/* The controlling terminal of instance i (stat's tty_nr, 0 for none), from what was read of it. */
static uint32_t instance_tty_nr(Daemon *d, const Instance *i, const ProcInfo *info) {
        uint32_t tty_nr = info && (info->have & PROCFS_STAT) ? info->tty_nr : 0;
        ProcInfo st = {};

        if (tty_nr != 0 || d->exec_source != LINEAGE_EXEC_SOURCE_BPF)
                return tty_nr;
        /* The eBPF record carries no terminal: read it (only while a login's terminal is looked for). */
        if (procfs_read(d->config.proc, i->pid, PROCFS_STAT, &st) >= 0)
                tty_nr = st.tty_nr;
        proc_info_done(&st);
        return tty_nr;
}

/* Reads what a login's record lacks from instance i (the login instance, or an exec in its session). */
void read_login_details(Daemon *d, Login *l, Instance *i, const ProcInfo *info, bool begin) {
        RecordLogin rl = { .pid = i->pid, .audit_session = l->audit_session, .begin = begin };
        _cleanup_free_ char *conn = NULL, *cgroup = NULL;
        Instance *at = tracker_get(d->tracker, l->pid);
        const char *exe = at && at->exe ? at->exe : NULL;
        int r;

        if (!l->service) {
                const char *base = exe ? strrchr(exe, '/') : NULL;

                copy_field(rl.service, sizeof(rl.service), base ? base + 1 : at ? at->comm : NULL);
        }
        if (!l->remote_address && procfs_read_environ_var(d->config.proc, i->pid, "SSH_CONNECTION", &conn) >= 0) {
                char addr[64];
                unsigned port;

                /* "CLIENT_ADDRESS CLIENT_PORT SERVER_ADDRESS SERVER_PORT" */
                if (sscanf(conn, "%63s %u", addr, &port) == 2 && port <= 65535) {
                        copy_field(rl.remote_address, sizeof(rl.remote_address), addr);
                        rl.remote_port = (int32_t) port;
                }
        }
        if (!l->remote_address && !rl.remote_address[0] && begin) {
                /* No SSH_CONNECTION (the session's shell may be gone already): the login process itself
                 * (sshd's session process) holds the client's connection. */
                unsigned port;

                if (procfs_read_tcp_peer(d->config.proc, i->pid, rl.remote_address, sizeof(rl.remote_address), &port) >= 0)
                        rl.remote_port = (int32_t) port;
        }
        if (!l->tty) {
                uint32_t tty_nr = instance_tty_nr(d, i, info);

                if (tty_nr != 0)
                        tty_name(tty_nr, rl.tty, sizeof(rl.tty));
        }
        if (!l->unit && (r = procfs_read_cgroup(d->config.proc, i->pid, &cgroup)) >= 0)
                cgroup_session(cgroup, rl.logind_session, sizeof(rl.logind_session), rl.unit, sizeof(rl.unit));
        if (!l->trust_checked)
                rl.trust = at ? login_trust(d, at) : RECORD_LOGIN_SELF_DECLARED;
        if (d->record && (r = record_write_login(d->record, &rl)) < 0)
                record_failed(d, r);
        (void) apply_login_record(d, &rl);
}

/* i carries an audit session nobody before it had: walk up its live birth ancestors to the earliest one
 * in the same session (pam_loginuid wrote there, and no event told us), and begin the login there. */
void begin_login(Daemon *d, Instance *i, const ProcInfo *info) {
        Instance *at = i;
        Login *l;

        /* Along CABAs: the closest alive birth ancestors. Exited ones in between cannot be read. */
        for (unsigned n = 0; n < 64; n++) {
                Instance *p = (Instance *) tracker_caba(at);
                ProcInfo pi = {};
                int r;

                if (!p)
                        break;
                if (p->sessionid != i->sessionid) {
                        /* Its session is as it was at fork, unless we look again. */
                        r = procfs_read(d->config.proc, p->pid, PROCFS_STAT | PROCFS_LOGIN, &pi);
                        if (r < 0)
                                break;
                        if (d->record && (r = record_write_info(d->record, &pi)) < 0)
                                record_failed(d, r);
                        (void) tracker_apply_info(d->tracker, p, &pi);
                        proc_info_done(&pi);
                }
                if (p->sessionid != i->sessionid)
                        break;
                at = p;
        }
        l = tracker_login_begin(d->tracker, at);
        if (!l)
                return;
        log_debug("Login: audit session %u of uid %u began at pid %d.", l->audit_session, l->loginuid, at->pid);
        read_login_details(d, l, at, at == i ? info : NULL, true);
        if (at != i)
                read_login_details(d, l, i, info, false);
        journal_export_login_start(d->journal, l);
}

/* Whether exec'ing instance i shows login l's terminal. Not a count of execs: before the shell, a
 * session may run any number without one (pam_motd's sh -c, run-parts and each /etc/update-motd.d
 * script under Debian's sshd). The search ends with the login, at the first terminal, or once a process
 * leading its own session exec'd without one: sshd and login make the shell lead a session and give it
 * the terminal before it execs, so a session that has none by then had none (ssh without -t, cron). */
bool exec_shows_tty(Daemon *d, Login *l, Instance *i, const ProcInfo *info) {
        if (l->tty || l->tty_settled || l->ended)
                return false;
        if (instance_tty_nr(d, i, info) != 0)
                return true;
        if (i->sid == i->pid)
                l->tty_settled = true;
        return false;
}

void scan_login_details(Tracker *t, Login *l, void *userdata) {
        Daemon *d = userdata;
        Instance *i = tracker_get(t, l->pid);

        if (i)
                read_login_details(d, l, i, NULL, false);
}
