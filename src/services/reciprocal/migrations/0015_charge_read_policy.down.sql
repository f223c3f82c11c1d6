ALTER POLICY charges_read ON reciprocal.charges
    USING (core.is_network_admin() OR core.current_club() = host_club_id
           OR (core.current_club() = home_club_id AND EXISTS (SELECT 1 FROM
               reciprocal.statements s WHERE s.id = statement_id)));
