// "A test that fails on string-built SQL": scans the host's and the plugins' C++ sources for SQL
// text glued together with values (concatenation, std::to_string, format/printf, stream
// insertion) instead of $N parameters, and fails naming file:line. Identifiers that cannot be
// parameters (the deployment's schema) are listed below with the reason they are safe.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Finding {
  std::string file;
  int line = 0;
  std::string why;
  std::string statement;
};

// Statements allowed to splice text into SQL: file suffix + a fragment of the statement (with
// runs of whitespace collapsed to one space).
struct Allowed {
  const char* file;
  const char* fragment;
  const char* reason;
};
const Allowed kAllowed[] = {
    {"host/src/store/postgres.cpp", "\"CREATE SCHEMA IF NOT EXISTS \" + schema_",
     "schema is an identifier checked by validIdentifier() when the store opens"},
};

// Uppercase SQL as the code base writes it; a literal containing one of these is SQL text.
const std::regex kSqlWords(
    R"(\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WHERE|VALUES|ORDER\s+BY|LIMIT|OFFSET|CREATE\s+(TABLE|INDEX|SCHEMA)|DROP\s+TABLE|ALTER\s+TABLE)\b)");

// Source with comments removed (same length, newlines kept, so offsets keep their line) and a
// second copy with string-literal contents blanked, to look at the code around the literals.
struct Masked {
  std::string code;   // comments blanked
  std::string shape;  // comments and literal contents blanked (quotes kept)
  std::vector<std::pair<size_t, size_t>> literals;  // [begin, end) of each literal's content
};

Masked mask(const std::string& src) {
  Masked m{src, src, {}};
  size_t i = 0;
  const size_t n = src.size();
  auto blank = [&](size_t from, size_t to, bool both) {
    for (size_t k = from; k < to && k < n; ++k) {
      if (src[k] == '\n') continue;
      m.shape[k] = ' ';
      if (both) m.code[k] = ' ';
    }
  };
  while (i < n) {
    if (src.compare(i, 2, "//") == 0) {
      const size_t e = src.find('\n', i);
      blank(i, e == std::string::npos ? n : e, true);
      i = e == std::string::npos ? n : e;
    } else if (src.compare(i, 2, "/*") == 0) {
      const size_t e = src.find("*/", i + 2);
      blank(i, e == std::string::npos ? n : e + 2, true);
      i = e == std::string::npos ? n : e + 2;
    } else if (src[i] == 'R' && i + 1 < n && src[i + 1] == '"' &&
               (i == 0 ||
                !(std::isalnum(static_cast<unsigned char>(src[i - 1])) || src[i - 1] == '_'))) {
      const size_t open = src.find('(', i + 2);
      if (open == std::string::npos) break;
      const std::string close = ")" + src.substr(i + 2, open - i - 2) + "\"";
      const size_t e = src.find(close, open);
      const size_t end = e == std::string::npos ? n : e;
      m.literals.emplace_back(open + 1, end);
      blank(open + 1, end, false);
      i = end + close.size();
    } else if (src[i] == '"') {
      size_t k = i + 1;
      while (k < n && src[k] != '"' && src[k] != '\n') k += src[k] == '\\' ? 2 : 1;
      m.literals.emplace_back(i + 1, k);
      blank(i + 1, k, false);
      i = k + 1;
    } else if (src[i] == '\'') {
      size_t k = i + 1;
      while (k < n && src[k] != '\'' && src[k] != '\n') k += src[k] == '\\' ? 2 : 1;
      blank(i + 1, k, false);
      i = k + 1;
    } else {
      ++i;
    }
  }
  return m;
}

// Pieces of SQL that are constants, not values: the stored message's column list, the $N markers
// of placeholders() and placeholderRows(), the dialect's constant clauses, functions returning
// constant statements and PLEXUS_* macros of SQL text. Each becomes an empty literal; then literals
// joined by '+' fold into one. What is left joined to a literal is a value.
std::string constantsFolded(std::string shape) {
  static const std::regex kConstants(
      R"((std::string\(\s*("[^"]*"\s*)+\))|\bPLEXUS_[A-Z_]+\b|\b(store::)?kMessageColumns\b|\bplaceholder(s|Rows)\([^()]*(\([^()]*\))?[^()]*\)|\bdialect\.skipLocked\(\)|\b(selectSql|selectDeadLetters)\(\))");
  static const std::regex kJoined(R"("\s*\+\s*")");
  shape = std::regex_replace(shape, kConstants, "\"\"");
  for (std::string folded = std::regex_replace(shape, kJoined, ""); folded != shape;
       folded = std::regex_replace(shape, kJoined, "")) {
    shape = folded;
  }
  return shape;
}

std::vector<Finding> scan(const std::string& file, const std::string& src) {
  const Masked m = mask(src);
  std::vector<Finding> out;
  // Statements end at ';' or '{' / '}' outside literals (shape has no literal content).
  size_t start = 0;
  std::vector<std::pair<size_t, size_t>> statements;
  for (size_t i = 0; i < m.shape.size(); ++i) {
    const char c = m.shape[i];
    if (c == ';' || c == '{' || c == '}') {
      statements.emplace_back(start, i);
      start = i + 1;
    }
  }
  statements.emplace_back(start, m.shape.size());
  size_t lit = 0;
  for (const auto& [b, e] : statements) {
    while (lit < m.literals.size() && m.literals[lit].first < b) ++lit;
    size_t firstSql = std::string::npos;
    for (size_t k = lit; k < m.literals.size() && m.literals[k].first < e; ++k) {
      const std::string text =
          src.substr(m.literals[k].first, m.literals[k].second - m.literals[k].first);
      if (std::regex_search(text, kSqlWords)) {
        firstSql = m.literals[k].first;
        break;
      }
    }
    if (firstSql == std::string::npos) continue;
    const std::string shape = constantsFolded(m.shape.substr(b, e - b));
    std::string why;
    static const std::regex concat(R"(\"\s*\+[^+=]|[^+]\+\s*\"|\+=\s*\")");
    static const std::regex convert(R"(\b(format|s?n?printf|strcat|append)\s*\()");
    static const std::regex stream(R"(\"\s*<<\s*[^\s\"])");
    if (std::regex_search(shape, concat))
      why = "SQL text concatenated with a value";
    else if (std::regex_search(shape, convert))
      why = "a value formatted into SQL text";
    else if (std::regex_search(shape, stream))
      why = "SQL text streamed together with a value";
    if (why.empty()) continue;
    const std::string stmt = std::regex_replace(m.code.substr(b, e - b), std::regex(R"(\s+)"), " ");
    bool allowed = false;
    for (const auto& a : kAllowed) {
      const std::string f = a.file;
      if (file.size() >= f.size() && file.compare(file.size() - f.size(), f.size(), f) == 0 &&
          stmt.find(a.fragment) != std::string::npos)
        allowed = true;
    }
    if (allowed) continue;
    const int line = 1 + static_cast<int>(std::count(
                             src.begin(), src.begin() + static_cast<long>(firstSql), '\n'));
    out.push_back({file, line, why, stmt});
  }
  return out;
}

std::string report(const std::vector<Finding>& fs) {
  std::string out;
  for (const auto& f : fs)
    out += f.file + ":" + std::to_string(f.line) + ": " + f.why + ": " + f.statement + "\n";
  return out;
}

TEST(SqlGuard, ParameterisedSqlPasses) {
  const auto found = scan("x.cpp", R"cpp(
    ctx.sql("SELECT a FROM t WHERE id = $1 AND n > $2", id, std::to_string(n));  // bound values
    ctx.exec("UPDATE t SET n = n + 1 WHERE id = $1", id);
    const char* kQ =
        "SELECT x "
        "FROM t WHERE y = $1";
    session << "SELECT 1", into(one), now;
    log("cannot reach " + host);
  )cpp");
  EXPECT_TRUE(found.empty()) << report(found);
}

TEST(SqlGuard, InjectedExamplesFailWithFileAndLine) {
  const std::string src =
      "void f(Ctx& ctx, const std::string& id, int n) {\n"
      "  ctx.sql(\"SELECT * FROM orders WHERE id = '\" + id + \"'\");\n"
      "  ctx.exec(\"DELETE FROM t WHERE n = \" + std::to_string(n));\n"
      "  std::string q = \"SELECT a FROM t\";\n"
      "  q += \" WHERE id = \" ;\n"
      "  ctx.sql(fmt::format(\"SELECT a FROM t WHERE id = {}\", id));\n"
      "  os << \"UPDATE t SET a = 1 WHERE id = \" << id;\n"
      "  ctx.sql(R\"(SELECT a FROM t WHERE b = )\" + id);\n"
      "}\n";
  const auto found = scan("plugins/evil/src/evil.cpp", src);
  ASSERT_EQ(found.size(), 6u) << report(found);
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[1].line, 3);
  EXPECT_EQ(found[2].line, 5);
  EXPECT_EQ(found[3].line, 6);
  EXPECT_EQ(found[4].line, 7);
  EXPECT_EQ(found[5].line, 8);
  EXPECT_NE(report(found).find("plugins/evil/src/evil.cpp:2: SQL text concatenated with a value"),
            std::string::npos)
      << report(found);
}

// Constant pieces (column lists, $N markers, PLEXUS_* SQL macros) fold away; a value next to them
// is still found.
TEST(SqlGuard, ConstantsFoldButAValueBesideThemIsFound) {
  const std::string src =
      "void f(Tx& tx, const std::string& id, size_t n) {\n"
      "  tx.query(std::string(\"SELECT \") + kMessageColumns + \" FROM t WHERE a IN (\" +\n"
      "           placeholders(1, n) + \")\", p);\n"
      "  tx.query(std::string(\"SELECT \") + kMessageColumns + \" FROM t WHERE id = \" + id);\n"
      "  tx.query(\"SELECT a FROM t\" PLEXUS_WHERE + id, p);\n"
      "}\n";
  const auto found = scan("host/src/store/x.cpp", src);
  ASSERT_EQ(found.size(), 2u) << report(found);
  EXPECT_EQ(found[0].line, 4);
  EXPECT_EQ(found[1].line, 5);
}

TEST(SqlGuard, CommentsDoNotCount) {
  EXPECT_TRUE(scan("x.cpp", "// ctx.sql(\"SELECT \" + id);\n/* \"WHERE \" + x */\nint a = 1 + 2;\n")
                  .empty());
}

// The real tree: host and plugin sources. PLEXUS_SQL_GUARD_EXTRA_DIR adds a directory (used to
// show the test failing on an injected file without touching the tree).
TEST(SqlGuard, SourceTreeHasNoStringBuiltSql) {
  std::vector<fs::path> roots{fs::path(PLEXUS_SOURCE_DIR) / "host" / "src",
                              fs::path(PLEXUS_SOURCE_DIR) / "plugins"};
  if (const char* extra = std::getenv("PLEXUS_SQL_GUARD_EXTRA_DIR")) roots.emplace_back(extra);
  std::vector<Finding> all;
  size_t files = 0;
  for (const auto& root : roots) {
    ASSERT_TRUE(fs::is_directory(root)) << root;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() ||
          (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc"))
        continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream buf;
      buf << in.rdbuf();
      ++files;
      std::string rel = fs::relative(entry.path(), PLEXUS_SOURCE_DIR).string();
      if (rel.rfind("..", 0) == 0) rel = entry.path().string();
      for (auto& f : scan(rel, buf.str())) all.push_back(std::move(f));
    }
  }
  EXPECT_GT(files, 20u);
  EXPECT_TRUE(all.empty()) << "string-built SQL (use $N parameters):\n" << report(all);
}

}  // namespace
