-- undoes 0006_club_treasurer: the role's grants go; custom roles lose the settlement
-- permissions (a role left with none is deleted, with its grants).
SELECT set_config('app.network_admin', 'on', true);

DELETE FROM auth.user_roles WHERE role = 'club_treasurer';
UPDATE auth.roles SET perms = btrim(replace(replace(replace(' ' || perms || ' ',
           ' settlement:read ', ' '), ' settlement:write ', ' '), ' charge:write ', ' '));
DELETE FROM auth.roles WHERE perms = '';

ALTER TABLE auth.roles DROP CONSTRAINT roles_name_check;
ALTER TABLE auth.roles ADD CONSTRAINT roles_name_check
    CHECK (name ~ '^[a-z][a-z0-9_]{1,39}$' AND name NOT IN
           ('network_admin', 'club_admin', 'club_staff', 'member'));

ALTER TABLE auth.user_roles DROP CONSTRAINT user_roles_custom_role_fkey;
ALTER TABLE auth.user_roles DROP COLUMN custom_role;
ALTER TABLE auth.user_roles ADD COLUMN custom_role text GENERATED ALWAYS AS
    (CASE WHEN role IN ('network_admin', 'club_admin', 'club_staff', 'member') THEN NULL
          ELSE role END) STORED;
ALTER TABLE auth.user_roles ADD CONSTRAINT user_roles_custom_role_fkey
    FOREIGN KEY (club_id, custom_role) REFERENCES auth.roles (club_id, name) ON DELETE CASCADE;
