SELECT
  "s"."pid" AS "pid",
  "s"."team_id" AS "team_id",
  "s"."t" AS "t",
  CASE WHEN "j1"."ts" >= "s"."t" - INTERVAL '86400' SECOND THEN "j1"."age" END AS "age",
  CASE WHEN "j2"."seen" >= "s"."t" - INTERVAL '86400' SECOND THEN "j2"."score" END AS "score"
FROM "entity_df" AS "s"
ASOF LEFT JOIN "players_1" AS "j1"
  ON "s"."pid" = "j1"."pid" AND "s"."t" >= "j1"."ts"
ASOF LEFT JOIN "stats_1" AS "j2"
  ON "s"."pid" = "j2"."pid" AND "s"."t" >= "j2"."seen"
ORDER BY
  "s"."__lb_row"
