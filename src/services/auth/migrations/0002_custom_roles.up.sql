-- auth service: custom roles per club (issue 3, RBAC). A club admin (or a network admin, naming
-- the club) defines a role as a named set of permissions; the built-in roles (network_admin,
-- club_admin, club_staff, member) stay in code (services/auth/rbac.c) and cannot be redefined.
-- A custom role exists in one club only, like every club role, so it grants nothing elsewhere.
-- Permissions are checked against the grantable list in rbac.c when a role is created; the
-- format is checked here as well.
CREATE TABLE auth.roles (
    club_id    uuid NOT NULL CHECK (club_id <> '00000000-0000-0000-0000-000000000000'),
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{1,39}$' AND name NOT IN
                   ('network_admin', 'club_admin', 'club_staff', 'member')),
    perms      text NOT NULL CHECK (perms ~ '^[a-z]+:[a-z_]+( [a-z]+:[a-z_]+){0,31}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid,
    PRIMARY KEY (club_id, name)
);
ALTER TABLE auth.roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON auth.roles
    USING (club_id = core.current_club() OR core.is_network_admin())
    WITH CHECK (club_id = core.current_club() OR core.is_network_admin());
GRANT SELECT, INSERT, DELETE ON auth.roles TO reciprocal_app;

-- user_roles.role: a built-in role or a custom role of the same club (deleting a custom role
-- removes it from its holders).
ALTER TABLE auth.user_roles DROP CONSTRAINT user_roles_role_check;
ALTER TABLE auth.user_roles ADD CONSTRAINT user_roles_role_check
    CHECK (role ~ '^[a-z][a-z0-9_]{1,39}$');
-- the custom role of a row (NULL for a built-in one) must exist in the row's club
ALTER TABLE auth.user_roles ADD COLUMN custom_role text GENERATED ALWAYS AS
    (CASE WHEN role IN ('network_admin', 'club_admin', 'club_staff', 'member') THEN NULL
          ELSE role END) STORED;
ALTER TABLE auth.user_roles ADD CONSTRAINT user_roles_custom_role_fkey
    FOREIGN KEY (club_id, custom_role) REFERENCES auth.roles (club_id, name) ON DELETE CASCADE;
