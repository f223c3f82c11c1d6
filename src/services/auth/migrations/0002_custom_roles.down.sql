ALTER TABLE auth.user_roles DROP CONSTRAINT user_roles_custom_role_fkey;
-- as the owner under FORCE RLS: act network-wide for this transaction
SELECT set_config('app.network_admin', 'on', true);
DELETE FROM auth.user_roles WHERE custom_role IS NOT NULL;
ALTER TABLE auth.user_roles DROP COLUMN custom_role;
ALTER TABLE auth.user_roles DROP CONSTRAINT user_roles_role_check;
ALTER TABLE auth.user_roles ADD CONSTRAINT user_roles_role_check
    CHECK (role IN ('network_admin', 'club_admin', 'club_staff', 'member'));
DROP TABLE auth.roles;
