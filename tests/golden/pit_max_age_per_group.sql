WITH "s" AS (
  SELECT
    *,
    ROW_NUMBER() OVER () AS "__lb_row"
  FROM "entity_df" AS "base"
), "j1" AS (
  SELECT
    "s"."__lb_row" AS "__lb_row",
    "r"."age",
    ROW_NUMBER() OVER (PARTITION BY "s"."__lb_row" ORDER BY "r"."ts" DESC) AS "__lb_rn"
  FROM "s"
  INNER JOIN "players_1" AS "r"
    ON (
      "s"."pid" = "r"."pid" AND "r"."ts" <= "s"."t"
    )
    AND "r"."ts" >= "s"."t" - INTERVAL '129600' SECOND
), "j2" AS (
  SELECT
    "s"."__lb_row" AS "__lb_row",
    "r"."score",
    ROW_NUMBER() OVER (PARTITION BY "s"."__lb_row" ORDER BY "r"."seen" DESC) AS "__lb_rn"
  FROM "s"
  INNER JOIN "stats_1" AS "r"
    ON (
      "s"."pid" = "r"."pid" AND "r"."seen" <= "s"."t"
    )
    AND "r"."seen" >= "s"."t" - INTERVAL '86400' SECOND
)
SELECT
  "s"."pid" AS "pid",
  "s"."team_id" AS "team_id",
  "s"."t" AS "t",
  "j1"."age" AS "age",
  "j2"."score" AS "score"
FROM "s"
LEFT JOIN "j1"
  ON "s"."__lb_row" = "j1"."__lb_row" AND "j1"."__lb_rn" = 1
LEFT JOIN "j2"
  ON "s"."__lb_row" = "j2"."__lb_row" AND "j2"."__lb_rn" = 1
ORDER BY
  "s"."__lb_row"
