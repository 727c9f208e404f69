/*
 * The refresh protocol of symbolon, as a Promela model for Spin.
 *
 * Checked by scripts/model-check.sh (in CI): exhaustively for small bounds, then once
 * per known-bad variant, each of which must FAIL. docs/CLIENT.md states the client rules
 * (rules 1-6 below) in prose; ARCHITECTURE.md ("The refresh protocol's model") says
 * what this covers and what it does not. The file lives next to the client because the
 * client rules are most of what it checks; the server side is a transcription of
 * decide() and of the store's compare-and-swap.
 *
 * What is modelled: one session; one token store (a file) shared by NC client
 * processes through a cross-process lock; NW server workers deciding requests
 * concurrently; a `symbolon login` over the profile; an environment that loses
 * requests and answers, delays answers past the client's timeout, keeps a request in
 * the server while the client retries, crashes processes, fails store writes, and lets
 * time pass. A token is its generation number: tokens are a pure function of session
 * and generation (crates/symbolon-core/src/refresh.rs, RefreshCodec::encode).
 *
 * Time is abstract: the environment ends each deadline at any moment real clocks allow.
 *   grace      the server's reuse grace of the last rotation (rotation.rs decide():
 *              now - rotated_at <= reuse_grace, G = 10 s by default);
 *   win[g]     the client's in-doubt window of token g (R2): a deadline D well inside
 *              G, from the first send of a refresh with g (the Rust client: D = G/2,
 *              ClientBuilder::reuse_grace; Live::may_present);
 *   settled[g] G has passed since the first send of g (rule 4).
 *   Order: win[g] ends before settled[g] (D < G); the grace of the rotation g -> g+1
 *   ends after settled[g] (that rotation came after the first send of g).
 *
 * Environment assumption A2 (SLOW_SERVER drops it): the server decides a request within
 * G - D of its send. So a request sent inside the window of g is decided before g
 * settles, and before the grace of the rotation g -> g+1 ends.
 *
 * Client rules (the default model; docs/CLIENT.md):
 *   R1 only `invalid_grant` on refresh means "log in again"; anything else: try again.
 *   R2 before its first send, a refresh token is marked "in doubt" in the store (if that
 *      write fails, nothing is sent); a token in doubt is presented again only inside its
 *      window, judged at the send; after the window, not at all ("log in again", C1).
 *   R3 the store is written under the cross-process lock, held from the read until the
 *      save succeeded; only over the token this process spent; a token this process
 *      spent is never adopted.
 *   R4 a token is presented only once G has passed since its predecessor's first send
 *      (conservatively: G after it was received). Without it, a try of the predecessor
 *      still in the server is decided after the successor rotated: reuse (NO_SETTLE).
 *   R5 a refresh runs to completion, save included, whoever gave up waiting for it.
 *   R6 `symbolon login` reads the tokens it replaces under the lock, when it saves the
 *      new ones, and ends the old session with them only if R2 allows presenting them.
 *
 * Properties (assertions; spin reports the line, which says which one):
 *   P1  the server never detects reuse (there is no attacker in the model);
 *   P2  each generation is rotated at most once (the compare-and-swap), and every 200
 *       answer to a presented generation g carries the token of g+1 (a grace replay
 *       re-issues that same token: tokens are deterministic);
 *   P2c a 200 that reaches a waiting client carries the session's current token (the
 *       slow path can hand out a spent successor after a stale read, but only to a
 *       request nobody waits for any more);
 *   P3  no state in which the session is alive and no client can go on with it: the
 *       store, a process's memory, or an answer on its way to a waiting process holds
 *       the current token, or holds its predecessor while that one's window is open (a
 *       retry then gets the same successor) -- unless C1 holds;
 *   P3b a client says "log in again" only when the session has ended, or under C1 for
 *       the token it holds;
 *   P3c after `symbolon login` saved a new session, someone still holds it.
 * C1 (the documented condition): a fault (lost or late answer, lost request, early
 * timeout, crash, failed store write) left a refresh with token g in doubt, and g's
 * window closed while g was still in doubt (marked in the store, or in a live
 * process's memory): nobody received and saved the successor in time. The clients then
 * stop presenting g and say "log in again"; the session is lost, but never revoked.
 *
 * Variants (off by default; scripts/model-check.sh expects each to FAIL). Where the
 * code does not follow a rule yet, a variant is the code:
 *   MARK_FAILURE_SENDS  the client before session 5's fix (client.rs post_refresh,
 *                       save_mark): when the in-doubt mark cannot be written, the
 *                       refresh is sent anyway, its doubt known to this process only.
 *                       The client now fails the call instead (not in CURRENT_CODE).
 *   MONOTONIC_CLOCK     the client before session 5's fix: the deadline of a token in
 *                       doubt was kept in memory as an Instant only, which on Linux
 *                       (CLOCK_MONOTONIC) does not count time spent in suspend; stored
 *                       marks use the boot clock, which does. Doubt::Since now holds
 *                       both and both must agree (not in CURRENT_CODE).
 *   CURRENT_SAVE        the current client's save (adopt_response, reconcile): a failed
 *                       save returns and drops the lock with `unsaved` set; the next
 *                       refresh writes memory to the store unconditionally; anything
 *                       else the store holds is adopted, a token this process spent too.
 *   LOGIN_OLD_UNLOCKED  the current CLI (client_cmd.rs login): the old tokens are read
 *                       before the login, without the lock, and that refresh token is
 *                       presented to /logout after the new session was saved.
 *   NO_SETTLE           the current client: the successor is presented at once (no R4).
 *   CURRENT_CODE        all five: the client as the code stands.
 *   RETRY_PAST_WINDOW   the client before issue 10's item 1: a possibly-sent refresh is
 *                       retried after a 30 s timeout, and the token presented again by
 *                       any later refresh, however late; no in-doubt mark (implies
 *                       NO_MARK).
 *   NO_MARK             the in-doubt mark only in the process's memory, not the store.
 *   NO_LOCK             no cross-process lock.
 *   NO_CAS              the server rotates by read-then-write, without the
 *                       compare-and-swap of rotate_current / rotate (sql.rs).
 *   CANCEL              the refresh runs in the caller's future (no spawned task): a
 *                       cancelled caller drops it while it waits for the answer or
 *                       before the save.
 *   SLOW_SERVER         drops A2.
 * Switches for looking at counterexamples: NO_P3 (no P3 monitor), NO_CRASH, NO_LOGIN;
 * bounds: NC, R, FAULTS, NW, NATT.
 */

#ifdef CURRENT_CODE
#define CURRENT_SAVE
#define LOGIN_OLD_UNLOCKED
#define NO_SETTLE
#endif
#ifdef RETRY_PAST_WINDOW
#define NO_MARK
#endif
/* Variants in which a token can reach the store, or the server, without its mark after
 * it was sent: then who knows which window matters (bw[], first[], unmarked[]). */
#if defined(MARK_FAILURE_SENDS) || defined(NO_MARK) || defined(CURRENT_SAVE) || defined(NO_LOCK)
#define TRACK_BELIEF
#endif

#ifndef NC
#define NC 2            /* client processes sharing one token store */
#endif
#ifndef R
#define R 2             /* refreshes each client process asks for */
#endif
#ifndef FAULTS
#define FAULTS 2        /* faults the environment may inject in one run */
#endif
#ifndef NW
#define NW 2            /* server workers (requests handled concurrently) */
#endif
#ifndef NATT
#define NATT 2          /* tries of one refresh (client.rs refresh_attempts, default 3) */
#endif
#define MAXG (NC * R)   /* the highest generation a run can reach */
#define GN 7            /* array size for generations (MAXG <= 6) */

#define NONE 255
#define NEWS 100        /* the token of the session a `symbolon login` starts */
#define LOGIN_ID NC     /* the lock holder id of the login process */

/* ---- the server: the session row (sessions table, crates/symbolon-store/src/sql.rs) ---- */
byte gen = 0;           /* generation */
bool revoked = false;   /* revoked_at IS NOT NULL */
bool grace = false;     /* now - rotated_at <= reuse_grace (false before any rotation) */
bool reuse = false;     /* ghost: revoke_for_reuse ran (sessions.rs) */
bool ended = false;     /* ghost: the session was ended legitimately (logout) */
byte rot[GN];           /* ghost: successful rotations from generation g (P2) */

/* ---- time (see the header) ---- */
#define UNSENT 0
#define OPEN 1
#define CLOSED 2
byte win[GN];           /* the in-doubt window of token g (R2) */
bool settled[GN];       /* reuse_grace has passed since the first send of g */
bool unmarked[GN];      /* g was sent while the store did not carry its in-doubt mark
                         * (TRACK_BELIEF variants) ... */
byte bw[GN];            /* ... so a process that sends g later believes in a window from
                         * its own send, which ends later than the real one (also the
                         * window as a clock that stops in suspend sees it: MONOTONIC_CLOCK) */
bool faultdoubt[GN];    /* ghost: a fault left a refresh of g in doubt */
bool c1[GN];            /* ghost: the documented condition C1 holds for g */

/* ---- the token store (store/file.rs EncryptedFileStore) and its lock (lock_file) ---- */
byte st_tok = 0;        /* the refresh token in the file (NONE: no file); logged in at 0 */
bool st_mark = false;   /* "in doubt since": a refresh with st_tok may have been sent */
byte lock = NONE;       /* the holder of the OS lock on PROFILE.tokens.lock */
bool newsaved = false;  /* ghost: the login saved the new session (P3c) */

/* ---- the client processes' memory (client.rs Inner: current, unsaved) ---- */
byte mem[NC];           /* the refresh token in memory */
bool mmark[NC];         /* it is in doubt (this process sent it, or read the mark) */
bool unsaved[NC];       /* Inner::unsaved */
byte flight[NC];        /* ghost: the token presented by the refresh in progress */
byte first[NC];         /* the token this process sent first of all: it knows its window */
bool alive[NC];
bool crashreq[NC];
byte nref[NC];          /* refreshes asked for so far (survives a crash: a rerun) */

/* ---- the network: requests, and one answer slot per process ---- */
chan req = [4] of { byte, byte, byte };    /* process, token, attempt */
byte infl[GN];          /* requests carrying token g not yet answered or lost */
#define NOANS 0
#define OK 1
#define GRANT 2         /* 401 invalid_grant */
#define BUSY 3          /* 503 (RotationContention), 5xx, 429 */
#define TIMEOUT 4
byte ans_kind[NC];
byte ans_tok[NC];
byte att[NC];           /* the attempt the process waits for (mod 4: at most 3 of a
                         * process's requests are in flight with FAULTS <= 2) */
bool waiting[NC];
bool lostans[NC];       /* the awaited request or its answer was lost: a timeout follows */

byte faults = 0;
#define FAULT (faults < FAULTS)
byte cancels = 0;

#if NC == 2
#define MEMHOLDS(x) (mem[0] == x || mem[1] == x)
#define ANSHOLDS(x) ((ans_kind[0] == OK && ans_tok[0] == x) || (ans_kind[1] == OK && ans_tok[1] == x))
#define MEMDOUBT(x) ((mem[0] == x && mmark[0]) || (mem[1] == x && mmark[1]))
#elif NC == 3
#define MEMHOLDS(x) (mem[0] == x || mem[1] == x || mem[2] == x)
#define ANSHOLDS(x) ((ans_kind[0] == OK && ans_tok[0] == x) || (ans_kind[1] == OK && ans_tok[1] == x) || (ans_kind[2] == OK && ans_tok[2] == x))
#define MEMDOUBT(x) ((mem[0] == x && mmark[0]) || (mem[1] == x && mmark[1]) || (mem[2] == x && mmark[2]))
#else
#error "NC must be 2 or 3"
#endif
#define HOLD(x) (st_tok == x || MEMHOLDS(x) || ANSHOLDS(x))
#define INDOUBT(x) ((st_tok == x && st_mark) || MEMDOUBT(x))

/* A fault left a refresh of g in doubt, or g's window closed: C1 holds from the moment
 * both are true while g is still in doubt. */
inline note_c1(g) {
  if
  :: faultdoubt[g] && win[g] == CLOSED && INDOUBT(g) -> c1[g] = true
  :: else -> skip
  fi
}
inline fault_on(g) {
  faultdoubt[g] = true;
  note_c1(g)
}

/* R2: the window of t is over, as process c can tell: the real one if c sent t first
 * or the store carried t's mark from the first send on, else the one c believes in. */
#ifdef MONOTONIC_CLOCK
/* The deadline in memory runs on a clock that stops while the machine sleeps: after a
 * suspend it still looks open. Every process judges by bw[t], which ends at any time
 * after the real window (a suspend can come right after a process read the mark). */
#define WINDOW_OVER(c, t) (bw[t] == CLOSED)
#else
#define WINDOW_OVER(c, t) (((first[c] == t || !unmarked[t]) && win[t] == CLOSED) || \
    (first[c] != t && unmarked[t] && bw[t] == CLOSED))
#endif

/* R4: a token is presented only once reuse_grace has passed since the first send
 * of its predecessor (NO_SETTLE: at once). */
#ifdef NO_SETTLE
#define SETTLED_BEFORE(t) true
#else
#define SETTLED_BEFORE(t) (t == 0 || settled[t - 1])
#endif
/* reuse_grace since the first send of g may pass once g's window has (D < G), and, by
 * A2, only once every request carrying g is decided (sent inside the window, each is
 * decided within G - D). SLOW_SERVER drops A2. */
#ifdef SLOW_SERVER
#define MAY_SETTLE(g) (win[g] == CLOSED)
#else
#define MAY_SETTLE(g) (win[g] == CLOSED && infl[g] == 0)
#endif
/* The grace of the rotation to `gen` ends reuse_grace after that rotation, which came
 * after the first send of gen-1: not before gen-1 settled. */
#define GRACE_MAY_END (gen == 0 || settled[gen - 1])

/* P3, P3c */
#define P3 (revoked || newsaved || HOLD(gen) || \
    (gen > 0 && win[gen - 1] == OPEN && HOLD(gen - 1)) || (gen > 0 && c1[gen - 1]))
#define P3c (!newsaved || HOLD(NEWS))

/* ===================================================================================
 * Server worker: Sessions::refresh / rotate (crates/symbolon-server/src/service/sessions.rs)
 * with decide() (crates/symbolon-core/src/rotation.rs) and the store's compare-and-swap
 * (rotate_current and rotate, crates/symbolon-store/src/sql.rs). NW of them run at once.
 * Expiry (refresh_ttl, absolute end), other clients and unknown generations are not
 * modelled: no request in the model is one of those.
 * =================================================================================== */

/* Answers the request (c, t, a): the network may lose the answer; nobody reads it if
 * the process stopped waiting for this attempt. */
inline answer(kind, tok) {
  atomic {
    assert(kind != OK || tok == t + 1);             /* P2: the answer to t is t+1 */
    infl[t]--;
    if
    :: waiting[c] && att[c] == a && ans_kind[c] == NOANS ->
       if
       :: ans_kind[c] = kind; ans_tok[c] = tok;
          assert(kind != OK || tok == gen)          /* P2c: the current token */
       :: FAULT -> faults++; lostans[c] = true; fault_on(t)   /* lost answer */
       fi
    :: else -> skip
    fi
  }
}

/* The compare-and-swap succeeded: generation t becomes t+1, the grace starts. */
inline rotated() {
  assert(rot[t] == 0);                              /* P2: one rotation per generation */
  rot[t]++;
  gen = t + 1;
  grace = true
}

#define D_ROTATE 1
#define D_REPLAY 2
#define D_REUSE 3
#define D_REFUSE 4
#define D_DONE 5

proctype Worker() {
  byte c, t, a, sg, d, loops;
  bool sgr;
end:
  do
  :: req?c, t, a ->
#ifndef NO_CAS
     /* Fast path: rotate_current, one UPDATE ... WHERE generation = $t AND revoked_at
      * IS NULL ... RETURNING. */
     if
     :: atomic { !revoked && gen == t -> rotated(); answer(OK, t + 1); d = D_DONE }
     :: else -> skip
     fi;
#endif
     /* Slow path: read the row, decide(), act; a lost swap reads again (3 rounds, then
      * RotationContention, a 503). */
     do
     :: d == D_DONE -> break
     :: d != D_DONE ->
        atomic {
          sg = gen; sgr = grace;
          if
          :: revoked -> d = D_REFUSE                              /* Revoked */
          :: !revoked && t == sg -> d = D_ROTATE                  /* Rotate */
          :: !revoked && t + 1 == sg && sgr -> d = D_REPLAY       /* GraceReplay */
          :: !revoked && (t + 1 < sg || (t + 1 == sg && !sgr)) -> d = D_REUSE  /* Reuse */
          :: !revoked && t > sg -> d = D_REFUSE                   /* Unknown */
          fi
        };
        if
        :: d == D_ROTATE ->
#ifdef NO_CAS
           /* read-then-write: UPDATE ... SET generation = $t + 1 with no generation guard */
           atomic { rotated(); answer(OK, t + 1); d = D_DONE }
#else
           /* rotate: UPDATE ... WHERE generation = $t AND revoked_at IS NULL */
           atomic {
             if
             :: !revoked && gen == t -> rotated(); answer(OK, t + 1); d = D_DONE
             :: else -> loops++;
                if
                :: loops >= 3 -> answer(BUSY, NONE); d = D_DONE
                :: else -> d = 0
                fi
             fi
           }
#endif
        :: d == D_REPLAY -> answer(OK, sg); d = D_DONE    /* the same successor, no write */
        :: d == D_REUSE ->
           atomic { revoked = true; reuse = true };       /* revoke_for_reuse */
           assert(!reuse);                                /* P1: never reuse */
           answer(GRANT, NONE); d = D_DONE
        :: d == D_REFUSE -> answer(GRANT, NONE); d = D_DONE
        fi
     od;
     atomic { c = 0; t = 0; a = 0; sg = 0; d = 0; loops = 0; sgr = false }
  od
}

/* ===================================================================================
 * Client process: one OS process with one Client (crates/symbolon-client/src/client.rs)
 * over the shared token file, e.g. `symbolon request` (crates/symbolon-cli/src/client_cmd.rs)
 * or a daemon. Each turn of the loop is one refresh_from: a token that is due, or a
 * 401 invalid_token. Callers inside one process share the flight (refresh_lock), so one
 * caller stands for all of them; a cancelled caller does not stop the flight, which runs
 * in a spawned task (refresh_from -> refresh_in_task) -- except under CANCEL.
 * A crash (the environment's crashreq) may come at any step: memory is gone, the OS
 * releases the file lock, requests already sent go on. The process then runs again.
 * =================================================================================== */

/* The store now holds st_tok without a mark: if st_tok was sent already, its first
 * send is lost to whoever reads it (TRACK_BELIEF variants only). */
inline saved_unmarked() {
#ifdef TRACK_BELIEF
  if
  :: st_tok < GN && win[st_tok] != UNSENT -> unmarked[st_tok] = true
  :: else -> skip
  fi
#else
  skip
#endif
}

inline release() {
  lock = NONE; flight[c] = NONE
}

/* k: what the client does next */
#define GO 0            /* present t */
#define NOTOKENS 10     /* no tokens anywhere: LoginRequired */
#define SKIP 11         /* no refresh this time (adopted fresh tokens, or a transient error) */
#define STOP 12         /* the process is done (on the new session, or told to log in) */
#define ADOPTED 13

proctype Client(byte c) {
  byte t, s, k, n, spent;
rerun:
  /* ensure_loaded: the store read once, without the lock */
  atomic { spent = NONE; mem[c] = st_tok; mmark[c] = st_mark; unsaved[c] = false; alive[c] = true }
  {
    do
    :: nref[c] >= R -> break
    :: nref[c] < R ->
       /* refresh_in_task: the store's cross-process lock (store.lock(): lock_file), then
        * reconcile(). One step: while the lock is held nobody else reads or writes the
        * store, and a crash in between is the same as one before or after. */
       atomic {
#ifndef NO_LOCK
         lock == NONE -> lock = c;
#endif
         nref[c]++;
         k = GO;
         if
         :: unsaved[c] ->
            /* Tokens this process could not save (only when the lock was let go before
             * the save succeeded: CURRENT_SAVE, CANCEL). */
#ifdef CURRENT_SAVE
            if
            :: st_tok = mem[c]; st_mark = false; unsaved[c] = false;  /* unconditionally */
               saved_unmarked()
            :: FAULT -> faults++; k = SKIP     /* fails again: the error, the lock released */
            fi
#else
            /* R3: written only over the token this process spent; anything else in
             * the store is newer (or the same successor) and wins. */
            if
            :: st_tok == spent -> st_tok = mem[c]; st_mark = false
            :: else -> mem[c] = st_tok; mmark[c] = st_mark; k = ADOPTED
            fi;
            unsaved[c] = false
#endif
         :: else ->
            if
            :: st_tok == NONE -> mem[c] = NONE; k = NOTOKENS
            :: st_tok != NONE && st_tok == mem[c] -> mmark[c] = st_mark
            :: st_tok != NONE && st_tok != mem[c] ->
#ifdef CURRENT_SAVE
               mem[c] = st_tok; mmark[c] = st_mark; k = ADOPTED
#else
               if
               :: st_tok == spent -> skip      /* R3: never adopt a token this process spent */
               :: else -> mem[c] = st_tok; mmark[c] = st_mark; k = ADOPTED
               fi
#endif
            fi
         fi;
         if
         :: k == NOTOKENS ->
            assert(revoked || ended);          /* P3b: "log in again" only for an ended session */
            release(); nref[c] = R; goto next
         :: k == SKIP -> release(); goto next
         :: k != NOTOKENS && k != SKIP && mem[c] == NEWS ->
            release(); nref[c] = R; goto next  /* on the new session: not modelled further */
         :: k == ADOPTED && mem[c] != NEWS ->
            if
            :: release(); goto next            /* another process refreshed: fresh enough */
            :: skip                            /* ... or due already */
            fi
         :: k == GO && mem[c] != NEWS -> skip
         fi;
         t = mem[c];
#ifndef NO_MARK
         /* R2: the token is marked in doubt in the store before its first send (a
          * store write, which may fail: then nothing is sent). client.rs post_refresh ->
          * save_mark (StoredTokens::in_doubt); a mark already there was read by
          * reconcile. */
         if
         :: mmark[c] -> skip
         :: !mmark[c] ->
            if
            :: st_tok == t -> st_mark = true; mmark[c] = true
            :: st_tok != t -> mmark[c] = true  /* NO_LOCK only: the file moved on */
#ifdef MARK_FAILURE_SENDS
            :: FAULT -> faults++; mmark[c] = true   /* sent anyway, in doubt for this process only */
#else
            :: FAULT -> faults++; release(); goto next
#endif
            fi
         fi;
#endif
         flight[c] = t;
         n = 0
       };
send:  /* post_refresh_once: POST /token/refresh. R2: a token that may have been sent
        * (marked) goes out again only inside its window, judged when it is sent
        * (post_refresh: Live::may_present before each try; Error::InDoubt after). */
       atomic {
         SETTLED_BEFORE(t) ->
         if
#ifndef RETRY_PAST_WINDOW
         :: mmark[c] && WINDOW_OVER(c, t) && n == 0 ->
            /* not presented at all: "log in again" (C1); the token stays in the store */
            assert(revoked || ended || faultdoubt[t]);     /* P3b */
            release(); nref[c] = R; goto next
         :: mmark[c] && WINDOW_OVER(c, t) && n > 0 ->
            release(); goto next               /* Error::Transient; still in doubt */
#endif
         :: else ->
#ifdef NO_MARK
            mmark[c] = true;                   /* in this process's memory only */
#endif
            if
            :: win[t] == UNSENT -> win[t] = OPEN;
#ifdef TRACK_BELIEF
               first[c] = t
#endif
#ifdef MONOTONIC_CLOCK
               bw[t] = OPEN
#endif
            :: else -> skip
            fi;
#ifdef TRACK_BELIEF
            if
            :: first[c] != t && unmarked[t] && bw[t] == UNSENT -> bw[t] = OPEN
            :: else -> skip
            fi;
            if :: !(st_tok == t && st_mark) -> unmarked[t] = true :: else -> skip fi;
#endif
            infl[t]++; att[c] = (att[c] + 1) % 4; waiting[c] = true; lostans[c] = false;
            ans_kind[c] = NOANS;
            req!c, t, att[c]
         fi
       };
       /* The answer, or a timeout: after a lost answer, or early (the answer is late, or
        * the request is still in the network or the server: a fault). */
       if
       :: atomic { ans_kind[c] != NOANS -> waiting[c] = false; k = ans_kind[c]; s = ans_tok[c]; ans_kind[c] = NOANS;
            if
            :: k == OK ->   /* adopt_response: memory first, `unsaved`, then the save */
               mem[c] = s; mmark[c] = false; unsaved[c] = true; spent = t
            :: k == BUSY -> fault_on(t)
            :: else -> skip
            fi }
       :: atomic { waiting[c] && (lostans[c] || FAULT) ->
            if :: !lostans[c] -> faults++ :: else -> skip fi;
            waiting[c] = false; lostans[c] = false; ans_kind[c] = NOANS;
            fault_on(t); k = TIMEOUT }
#ifdef CANCEL
       :: atomic { cancels < 1 -> cancels++; waiting[c] = false; ans_kind[c] = NOANS; release() };
          goto next
#endif
       fi;
       if
       :: k == OK ->
#ifdef CANCEL
          if
          :: atomic { cancels < 1 -> cancels++; release() }; goto next
          :: else -> skip
          fi;
#endif
          atomic {
            if
#ifdef CURRENT_SAVE
            :: st_tok = mem[c]; st_mark = false; unsaved[c] = false; saved_unmarked()
            :: FAULT -> faults++; fault_on(t)   /* the error returns, the lock goes */
#else
            /* R3: under the lock, only over the token that was spent. A save that
             * fails is tried again with the lock kept: the others wait (or give up
             * waiting: "try again"), which they cannot tell from a slow save; so it is
             * not a separate step here. */
            :: st_tok == spent -> st_tok = mem[c]; st_mark = false; unsaved[c] = false;
               saved_unmarked()
            :: st_tok != spent -> mem[c] = st_tok; mmark[c] = st_mark; unsaved[c] = false  /* NO_LOCK only */
#endif
            fi;
            release()
          }
       :: k == GRANT ->
          /* invalid_grant, the only "log in again": forget() clears memory and store */
          atomic {
            assert(revoked || ended);          /* P3b */
            mem[c] = NONE; mmark[c] = false; st_tok = NONE; st_mark = false;
            release(); nref[c] = R
          }
       :: k == BUSY || k == TIMEOUT ->
          n++;
          if
          :: n < NATT -> goto send             /* post_refresh: tries again */
          :: else -> release()                 /* Error::Transient: try again later */
          fi
       fi;
next:  atomic { t = 0; s = 0; k = 0; n = 0 }
    od;
    /* the process exits (a CLI command ends): its memory is gone */
    atomic { alive[c] = false; mem[c] = NONE; mmark[c] = false; unsaved[c] = false }
  } unless {
    atomic {
      crashreq[c] ->
      crashreq[c] = false;
      if :: flight[c] != NONE -> t = flight[c]; fault_on(t) :: else -> skip fi;
      if :: lock == c -> lock = NONE :: else -> skip fi;
      flight[c] = NONE; waiting[c] = false; lostans[c] = false; ans_kind[c] = NOANS;
      mem[c] = NONE; mmark[c] = false; unsaved[c] = false; first[c] = NONE;
      t = 0; s = 0; k = 0; n = 0
    };
    goto rerun
  }
}

/* ===================================================================================
 * `symbolon login` over the profile while other processes use it
 * (crates/symbolon-cli/src/client_cmd.rs login and end_old_session; Client::login in
 * client.rs): a new session is created, saved under both locks, then the old one is
 * ended by its refresh token through POST /logout (Sessions::logout -> session_to_end,
 * which decides like a refresh: current or grace -> end it; older -> reuse).
 * =================================================================================== */
proctype Login() {
  byte old = NONE, sg;
  bool oldmark = false, sgr;
#ifdef LOGIN_OLD_UNLOCKED
  atomic { old = st_tok; oldmark = st_mark };     /* store_of(..).load(), no lock */
#endif
  /* POST /login: a new session; the old one is untouched */
  atomic { lock == NONE -> lock = LOGIN_ID };
#ifndef LOGIN_OLD_UNLOCKED
  atomic { old = st_tok; oldmark = st_mark };     /* R6: the tokens it replaces, read under the lock */
#endif
  atomic { st_tok = NEWS; st_mark = false; newsaved = true };
  lock = NONE;
  if
  :: old == NONE || old == NEWS -> skip
  :: else ->
     /* POST /logout with the old refresh token: a request like a refresh (R4, A2) */
     atomic {
       SETTLED_BEFORE(old) ->
#ifndef LOGIN_OLD_UNLOCKED
       if
       :: oldmark && win[old] == CLOSED -> old = NONE    /* R2: may not be presented; left to expire */
       :: else -> infl[old]++
       fi
#else
       infl[old]++
#endif
     };
     if
     :: old == NONE -> skip
     :: else ->
        atomic { sg = gen; sgr = grace; infl[old]-- };   /* session_to_end reads the row */
        if
        :: revoked -> skip                           /* Revoked: invalid_grant, a note */
        :: !revoked && (old == sg || (old + 1 == sg && sgr)) ->
           atomic { revoked = true; ended = true }   /* end_sessions */
        :: !revoked && (old + 1 < sg || (old + 1 == sg && !sgr)) ->
           atomic { revoked = true; reuse = true };
           assert(!reuse)                            /* P1: never reuse */
        fi
     fi
  fi
}

/* ===================================================================================
 * The environment: time passes, processes crash, requests are lost on the way.
 * (Lost and late answers are chosen where they happen: Worker's answer, Client's wait.
 * Failed store writes: the FAULT branches at each write.)
 * =================================================================================== */
inline settle(g) {
  atomic { !settled[g] && MAY_SETTLE(g) && (g == 0 || settled[g - 1]) -> settled[g] = true }
}

inline close_believed(g) {
  atomic { bw[g] == OPEN && win[g] != OPEN -> bw[g] = CLOSED }
}

inline close_window(g) {
  atomic {
    win[g] == OPEN && (g == 0 || win[g - 1] != OPEN) ->
    win[g] = CLOSED;
    note_c1(g)
  }
}

active proctype Env() {
  byte cc, tt, aa;
end:
  do
  :: close_window(0)
  :: close_window(1)
  :: close_window(2)
#if MAXG >= 3
  :: close_window(3)
#endif
#if MAXG >= 4
  :: close_window(4)
#endif
#if MAXG >= 5
  :: close_window(5)
#endif
#if MAXG >= 6
  :: close_window(6)
#endif
  :: settle(0)
  :: settle(1)
#if MAXG >= 3
  :: settle(2)
#endif
#if MAXG >= 4
  :: settle(3)
#endif
#if MAXG >= 5
  :: settle(4)
#endif
#if MAXG >= 6
  :: settle(5)
#endif
  :: atomic { grace && GRACE_MAY_END -> grace = false }
#if defined(TRACK_BELIEF) || defined(MONOTONIC_CLOCK)
  :: close_believed(0)
  :: close_believed(1)
  :: close_believed(2)
#if MAXG >= 3
  :: close_believed(3)
#endif
#if MAXG >= 4
  :: close_believed(4)
#endif
#if MAXG >= 5
  :: close_believed(5)
#endif
#endif
#ifndef NO_CRASH
  :: atomic { FAULT && alive[0] && !crashreq[0] -> faults++; crashreq[0] = true }
  :: atomic { FAULT && alive[1] && !crashreq[1] -> faults++; crashreq[1] = true }
#if NC >= 3
  :: atomic { FAULT && alive[2] && !crashreq[2] -> faults++; crashreq[2] = true }
#endif
#endif
  :: atomic { FAULT && len(req) > 0 ->             /* a request lost on the way */
       faults++; req?cc, tt, aa; infl[tt]--; fault_on(tt);
       if :: waiting[cc] && att[cc] == aa -> lostans[cc] = true :: else -> skip fi;
       cc = 0; tt = 0; aa = 0 }
  od
}

/* P3 and P3c, checked in every state (NO_P3: off, to see what else fails) */
#ifndef NO_P3
active proctype Monitor() {
end:
  atomic {
    !(P3 && P3c) ->
    assert(P3);     /* P3: someone can go on with the session */
    assert(P3c)     /* P3c: the new session is held */
  }
}
#endif

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < NC -> mem[i] = NONE; flight[i] = NONE; first[i] = NONE; alive[i] = true; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NC -> run Client(i); i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NW -> run Worker(); i++
    :: else -> break
    od;
#ifndef NO_LOGIN
    run Login();
#endif
    i = 0
  }
}
