-- 0006_club_treasurer: the built-in role club_treasurer (issue 13: statement mails reach a
-- club's treasurers) and the settlement permissions (services/auth/rbac.c).
-- club_treasurer is granted like every club role (POST /auth/users/{id}/roles); a user may hold
-- it beside other roles (user_roles has one row per role). Built-in roles live in code; here
-- they are the names a custom role may not take and the roles that are not custom.
-- The settlement operations of the reciprocal service now ask for settlement:read (charges,
-- statements, netting, the re-billing list; was member:read), settlement:write (issue, dispute,
-- answer, accept, pay statements; was club:write) and charge:write (post and reverse lines; was
-- member:write). Existing custom roles keep what they could do: a role holding member:read gains
-- settlement:read, club:write gains settlement:write, member:write gains charge:write.
-- As the owner under FORCE RLS: act network-wide for this transaction.
SELECT set_config('app.network_admin', 'on', true);

ALTER TABLE auth.user_roles DROP CONSTRAINT user_roles_custom_role_fkey;
-- a club's own custom role of that name is kept under another name, with its holders
UPDATE auth.roles SET name = 'club_treasurer_custom' WHERE name = 'club_treasurer';
UPDATE auth.user_roles SET role = 'club_treasurer_custom' WHERE role = 'club_treasurer';
ALTER TABLE auth.user_roles DROP COLUMN custom_role;
ALTER TABLE auth.user_roles ADD COLUMN custom_role text GENERATED ALWAYS AS
    (CASE WHEN role IN ('network_admin', 'club_admin', 'club_staff', 'club_treasurer', 'member')
          THEN NULL ELSE role END) STORED;
ALTER TABLE auth.user_roles ADD CONSTRAINT user_roles_custom_role_fkey
    FOREIGN KEY (club_id, custom_role) REFERENCES auth.roles (club_id, name) ON DELETE CASCADE;

ALTER TABLE auth.roles DROP CONSTRAINT roles_name_check;
ALTER TABLE auth.roles ADD CONSTRAINT roles_name_check
    CHECK (name ~ '^[a-z][a-z0-9_]{1,39}$' AND name NOT IN
           ('network_admin', 'club_admin', 'club_staff', 'club_treasurer', 'member'));

-- the settlement permissions for the custom roles that had their old equivalents
UPDATE auth.roles SET perms = perms || ' settlement:read'
 WHERE ' ' || perms || ' ' LIKE '% member:read %' AND ' ' || perms || ' ' NOT LIKE '% settlement:read %';
UPDATE auth.roles SET perms = perms || ' settlement:write'
 WHERE ' ' || perms || ' ' LIKE '% club:write %' AND ' ' || perms || ' ' NOT LIKE '% settlement:write %';
UPDATE auth.roles SET perms = perms || ' charge:write'
 WHERE ' ' || perms || ' ' LIKE '% member:write %' AND ' ' || perms || ' ' NOT LIKE '% charge:write %';
