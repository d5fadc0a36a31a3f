WITH "s" AS (
  SELECT
    *,
    ROW_NUMBER() OVER (ORDER BY "base"."pid", "base"."ts") AS "__lb_row"
  FROM "players_1" AS "base"
), "j2" AS (
  SELECT
    "s"."__lb_row" AS "__lb_row",
    "r"."score",
    ROW_NUMBER() OVER (PARTITION BY "s"."__lb_row" ORDER BY "r"."seen" DESC) AS "__lb_rn"
  FROM "s"
  INNER JOIN "stats_1" AS "r"
    ON "s"."pid" = "r"."pid" AND "r"."seen" <= "s"."ts"
)
SELECT
  "s"."pid" AS "pid",
  "s"."ts" AS "ts",
  "s"."age" AS "age",
  "j1"."city" AS "city",
  "j2"."score" AS "score"
FROM "s"
LEFT JOIN "teams_1" AS "j1"
  ON "s"."team_id" = "j1"."team_id"
LEFT JOIN "j2"
  ON "s"."__lb_row" = "j2"."__lb_row" AND "j2"."__lb_rn" = 1
WHERE
  "s"."age" > 20 AND "j1"."city" IN ('c10', 'c20', 'c40')
ORDER BY
  "s"."__lb_row"
