-- SPDX-License-Identifier: LGPL-2.1-or-later
-- Schema version 8: who a process was at each event. An unprivileged user sees only the events from while
-- a process was theirs (its real uid or its loginuid was theirs then), so each event, and the image (comm,
-- exe, argv) an instance row holds, keeps the owner it had when it was recorded: a process that root
-- started with a secret on its command line and that then dropped to another user does not hand that
-- command line to the new user.
--
-- events.uid, events.login_uid: the process's real uid and loginuid at the event (a uid event: the new real
-- uid, as the process is the new user's from then on). login_uid NULL: unset. Both NULL on rows written
-- before this version: those are judged by the instance's uid and login_uid, as before.
ALTER TABLE events ADD COLUMN uid INTEGER;
ALTER TABLE events ADD COLUMN login_uid INTEGER;
-- instances.image_uid, instances.image_login_uid: who the process was when the row's comm, exe and argv
-- were taken (its last exec; for a process that has not exec'd, its parent's image owner; for one found by
-- a /proc scan, its owner then). NULL image_uid: a row written before this version (judged as above).
-- uid 0 with login_uid NULL also stands for "not one owner" (the name changed under another owner than the
-- executable's): only root sees it.
ALTER TABLE instances ADD COLUMN image_uid INTEGER;
ALTER TABLE instances ADD COLUMN image_login_uid INTEGER;
